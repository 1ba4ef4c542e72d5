"""Every string the app shows, in Chinese and English.

Labels of parameters, targets and groups come from their own tables
(:mod:`czsim.parameters`, :mod:`czsim.targets`); this module holds only the app's own words.
"""

from __future__ import annotations

LANGUAGES: dict[str, str] = {"zh": "中文", "en": "English"}

#: key -> (Chinese, English). ``{name}`` fields are filled by :func:`t`.
STRINGS: dict[str, tuple[str, str]] = {
    "title": ("常州工业经济情景模拟器", "Changzhou industrial economy simulator"),
    "subtitle": (
        "系统动力学模型 · 常发〔2022〕1号 目标评估",
        "System-dynamics model · targets of 常发〔2022〕1号",
    ),
    "language": ("语言 Language", "Language 语言"),
    "page": ("页面", "Page"),
    "page_overview": ("概览", "Overview"),
    "page_scorecard": ("目标记分卡", "Scorecard"),
    "page_compare": ("情景对比", "Compare"),
    "page_uncertainty": ("不确定性", "Uncertainty"),
    "page_model": ("模型结构", "Model"),
    # Sidebar: scenario, keep.
    "scenario": ("起始情景", "Start from scenario"),
    "scenario_help": (
        "从 scenarios/ 中的情景文件或上传的文件开始；更换情景会清除调整。",
        "A scenario file of scenarios/ or an uploaded one; switching drops your changes.",
    ),
    "uploaded_prefix": ("上传", "uploaded"),
    "reset": ("重置为起始情景", "Reset to the scenario"),
    "tuned_count": ("已调整 {n} 个参数", "{n} parameter(s) changed"),
    "untuned": ("未调整参数", "No parameter changed"),
    "keep": ("保存与导入", "Keep"),
    "download_toml": ("下载情景 (TOML)", "Download scenario (TOML)"),
    "download_csv": ("下载结果 (CSV)", "Download results (CSV)"),
    "download_xlsx": ("下载结果 (Excel)", "Download results (Excel)"),
    "upload": ("上传情景文件 (TOML, ≤ {kb} KB)", "Upload a scenario file (TOML, ≤ {kb} KB)"),
    "upload_error": (
        "上传失败，当前情景未变：{error}",
        "Upload rejected, current scenario kept: {error}",
    ),
    "upload_ok": ("已载入上传的情景：{name}", "Loaded the uploaded scenario: {name}"),
    "too_large": (
        "文件过大：{size} 字节，上限 {limit} 字节",
        "file too large: {size} bytes, the limit is {limit} bytes",
    ),
    "not_toml": ("只接受 .toml 情景文件", "only .toml scenario files are accepted"),
    "not_utf8": ("文件不是 UTF-8 文本", "the file is not UTF-8 text"),
    # Sidebar: parameters.
    "parameters": ("参数调整", "Parameters"),
    "parameters_help": (
        "按类别分组；“政策杠杆”是可选择的措施，“假设”是未知的外部条件。",
        "Grouped by topic; levers are policy choices, assumptions are what we do not know.",
    ),
    "levers": ("政策杠杆", "Policy levers"),
    "assumptions": ("假设", "Assumptions"),
    "series_note": (
        "情景中为时间序列 {points}；拖动滑块将其替换为常数。",
        "A time series in this scenario ({points}); moving the slider replaces it with a constant.",
    ),
    "param_help": (
        "{source}\n\n变量：`{variable}` · 范围 {low}–{high} {units}",
        "{source}\n\nVariable: `{variable}` · range {low}–{high} {units}",
    ),
    # Overview.
    "current": ("当前情景", "Current scenario"),
    "baseline": ("基准情景", "Baseline"),
    "target": ("目标", "Target"),
    "year": ("年份", "Year"),
    "series": ("情景", "Scenario"),
    "scale_title": (
        "工业规模总量 2021–2030（亿元）",
        "Industrial scale 2021–2030 (亿元, 100 million yuan)",
    ),
    "scale_target": ("2025年目标 2.5万亿元", "2025 target 2.5万亿 (2.5 trillion yuan)"),
    "scale_metric": ("2025年工业规模", "Industrial scale 2025"),
    "vs_baseline": ("{delta} 亿元（较基准）", "{delta} 亿元 vs baseline"),
    "model_metric": ("模型目标达成", "Model-based targets reached"),
    "reached_metric": ("已达成目标", "Targets reached"),
    "reached_of": ("{reached} / {tracked}", "{reached} / {tracked}"),
    "summary": (
        "共 {total} 项目标：{reached} 项达成、{missed} 项未达成（其中模型 {model_reached}/"
        "{model_total}，计数型 {counter_reached}/{counter_total}），{untracked} 项未建模。",
        "{total} targets: {reached} reached, {missed} missed (model-based "
        "{model_reached}/{model_total}, counters {counter_reached}/{counter_total}), "
        "{untracked} untracked.",
    ),
    "clusters_title": (
        "十大产业集群：2025年规模与目标（亿元）",
        "The ten clusters: 2025 output vs target (亿元)",
    ),
    "cluster": ("集群", "Cluster"),
    "value_2025": ("2025年值", "2025 value"),
    "groups_title": ("其他目标组", "Other target groups"),
    "group_pick": ("目标组", "Target group"),
    "groups_caption": (
        "实线为当前情景、虚线为基准情景，红色横线为目标值。计数型目标按情景设定的速率推进。",
        "Solid: current scenario, dashed: baseline, red rule: the target. Counter "
        "targets advance at the pace the scenario sets.",
    ),
    # Scorecard.
    "scorecard_caption": (
        "2025年(或目标年)的模拟值。状态同时以符号和文字表示。",
        "Simulated value in the target's year. Status shown as symbol and word, not colour alone.",
    ),
    "filter_group": ("按目标组筛选", "Filter by group"),
    "filter_basis": ("按依据筛选", "Filter by basis"),
    "all": ("全部", "All"),
    "col_status": ("状态", "Status"),
    "col_target_label": ("目标", "Target"),
    "col_group": ("目标组", "Group"),
    "col_basis": ("依据", "Basis"),
    "col_year": ("年份", "Year"),
    "col_target": ("目标值", "Target value"),
    "col_value": ("模拟值", "Simulated"),
    "col_unit": ("单位", "Unit"),
    "col_gap": ("差距", "Gap"),
    "col_first": ("首次达成", "First reached"),
    "col_note": ("说明", "Note"),
    "basis_model": ("模型", "model"),
    "basis_counter": ("计数型", "counter"),
    "basis_untracked": ("未建模", "untracked"),
    "untracked_title": ("未建模的目标", "Untracked targets"),
    # Compare.
    "compare_pick": ("选择要对比的情景（两个或以上）", "Scenarios to compare (two or more)"),
    "compare_need_two": ("请至少选择两个情景。", "Pick at least two scenarios."),
    "compare_scale": ("工业规模总量对比（亿元）", "Industrial scale compared (亿元)"),
    "compare_clusters": ("2025年集群规模对比（亿元）", "Cluster output in 2025 compared (亿元)"),
    "compare_scorecard": ("目标对比", "Targets side by side"),
    "compare_params": ("参数差异", "What differs in their parameters"),
    "compare_same": ("所选情景的参数完全相同。", "The chosen scenarios have identical parameters."),
    "compare_reached_row": ("达成数", "Targets reached"),
    "parameter": ("参数", "Parameter"),
    "units": ("单位", "Units"),
    "current_label": ("当前（调整中）：{name}", "Current (tuned): {name}"),
    "file_label": ("文件：{name}", "File: {name}"),
    # Uncertainty.
    "unc_caption": (
        "对情景 [uncertain] 中每个参数在其范围内抽样（均匀或拉丁超立方），带宽为 P10–P90，实线为中位数。"
        "抽样的参数取代当前情景中的设定。",
        "Each parameter in the scenario's [uncertain] table is drawn over its range "
        "(uniform or Latin hypercube); bands are P10–P90, the line the median. Drawn "
        "parameters replace the scenario's setting of them.",
    ),
    "unc_none": (
        "当前情景没有 [uncertain] 范围，无法计算不确定性。",
        "The current scenario has no [uncertain] ranges: nothing to draw.",
    ),
    "unc_runs": ("运行次数", "Runs"),
    "unc_seed": ("随机种子", "Seed"),
    "unc_method": ("抽样方法", "Sampling"),
    "method_lhs": ("拉丁超立方", "Latin hypercube"),
    "method_uniform": ("独立均匀", "Independent uniform"),
    "unc_variable": ("显示的目标", "Target shown"),
    "unc_band": ("P10–P90", "P10–P90"),
    "unc_median": ("中位数", "Median"),
    "unc_prob_title": ("达成概率（模型目标）", "Probability of reaching each model-based target"),
    "unc_all_targets": (
        "全部目标的达成概率（含计数型）",
        "Probability for every tracked target (counters included)",
    ),
    "unc_ranges": ("抽样范围", "Ranges drawn"),
    "probability": ("达成概率", "Probability"),
    "stderr": ("标准误", "Std. error"),
    "low": ("下限", "Low"),
    "high": ("上限", "High"),
    "unc_runs_done": ("{n} 次运行，种子 {seed}", "{n} runs, seed {seed}"),
    # Model.
    "model_diagram": ("模型结构图", "Structure of the model"),
    "model_elements": ("模型元素", "Elements of the model"),
    "model_search": ("搜索（名称、方程、单位、说明）", "Search (name, equation, units, comment)"),
    "model_sector": ("模块", "Sector"),
    "model_count": ("{shown} / {total} 个元素", "{shown} / {total} elements"),
}


def t(key: str, lang: str, **fields: object) -> str:
    """The string ``key`` in ``lang`` (``"zh"`` or ``"en"``), with ``fields`` filled in."""
    zh, en = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**fields) if fields else text


def pick(pair: tuple[str, str], lang: str) -> str:
    """Choose from a ``(zh, en)`` pair of labels."""
    return pair[0] if lang == "zh" else pair[1]
