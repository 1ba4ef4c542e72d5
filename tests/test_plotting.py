"""Figures written to files render Chinese: a CJK font is found even when matplotlib's font
cache was built before the font was installed."""

from __future__ import annotations

import shutil

import pytest
from matplotlib import font_manager

from czsim import plotting


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="no fontconfig on this machine")
def test_cjk_font_found_when_the_font_cache_predates_it(monkeypatch):
    if not any("cjk" in p.lower() for p in font_manager.findSystemFonts()):
        pytest.skip("no CJK font installed (CI installs fonts-noto-cjk)")
    stale = [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    plotting.cjk_font.cache_clear()
    try:
        assert plotting.cjk_font() in plotting.CJK_FONTS
        assert any("CJK" in f.name for f in font_manager.fontManager.ttflist)
    finally:
        plotting.cjk_font.cache_clear()
