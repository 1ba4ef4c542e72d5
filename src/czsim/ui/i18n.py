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
    "reset_short": ("重置", "Reset"),
    "share_short": ("链接", "Link"),
    "import": ("导入情景文件", "Import a scenario file"),
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
    "assumptions": ("其他假设", "Other assumptions"),
    "series_note": (
        "情景中为时间序列 {points}；拖动滑块将其替换为常数。",
        "A time series in this scenario ({points}); moving the slider replaces it with a constant.",
    ),
    "param_help": (
        "{other}\n\n来源：{source}\n\n模型变量：`{variable}`（{model_units}）· 范围 {low} – {high}",
        "{other}\n\nSource: {source}\n\nModel variable: `{variable}` ({model_units}) · "
        "range {low} – {high}",
    ),
    # Overview.
    "current": ("当前情景", "Current scenario"),
    "baseline": ("基准情景", "Baseline"),
    "target": ("目标", "Target"),
    "year": ("年份", "Year"),
    "series": ("情景", "Scenario"),
    "scale_title": (
        "工业规模总量 2021–2030（亿元）",
        "Industrial scale 2021–2030 (100M yuan)",
    ),
    "scale_target": ("2025年目标 2.5万亿元", "2025 target: 2.5 trillion yuan"),
    "scale_metric": ("2025年工业规模", "Industrial scale 2025"),
    "vs_baseline": ("{delta} 亿元（较基准）", "{delta} (100M yuan) vs baseline"),
    "model_metric": ("模型目标达成", "Model-based targets reached"),
    "reached_metric": ("已达成目标", "Targets reached"),
    "reached_of": ("{reached} / {tracked}", "{reached} / {tracked}"),
    "summary": (
        "共 {total} 项目标：模型计算的 {tracked} 项中 {reached} 项达成、{missed} 项未达成；"
        "{pace} 项为进度核对（不判达成）；{untracked} 项未建模。",
        "{total} targets: of the {tracked} the model carries, {reached} reached and {missed} "
        "missed; {pace} pace checks (never scored reached); {untracked} untracked.",
    ),
    "clusters_title": (
        "十大产业集群：2025年规模与目标（亿元）",
        "The ten clusters: 2025 output vs target (100M yuan)",
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
    "compare_scale": ("工业规模总量对比（亿元）", "Industrial scale compared (100M yuan)"),
    "compare_clusters": (
        "2025年集群规模对比（亿元）",
        "Cluster output in 2025 compared (100M yuan)",
    ),
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
    "band_toggle": ("显示 P10–P90 不确定区间", "Show the P10–P90 band"),
    "band_help": (
        "按本情景的不确定参数范围运行 {n} 次（拉丁超立方抽样，与达成概率所用的运行相同）；您调整过的参数保持您的取值。",
        "{n} runs over the scenario's uncertain ranges (seeded Latin hypercube, the runs "
        "behind the probabilities); a parameter you moved is held at your value.",
    ),
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
    "model_search": (
        "搜索（中英文名称、方程、单位、说明）",
        "Search (Chinese or English name, equation, units, comment)",
    ),
    "el_name": ("模型名称", "Model name"),
    "el_label_zh": ("中文名称", "Chinese label"),
    "el_label_en": ("英文名称", "English label"),
    "el_sector": ("模块", "Sector"),
    "el_type": ("类型", "Type"),
    "el_units": ("单位", "Units"),
    "el_equation": ("方程", "Equation"),
    "el_comment": ("说明（原文）", "Comment"),
    "model_sector": ("模块", "Sector"),
    "model_count": ("{shown} / {total} 个元素", "{shown} / {total} elements"),
    # v2: levers, verdict, share, exports, errors.
    "levers_title": ("关键杠杆", "Key levers"),
    "levers_caption": (
        "拖动滑块即时重算；每个滑块下标出基准情景与规划情景的取值。其余参数见侧栏“其他假设”。",
        "Results follow each move; under each lever, the baseline's and the plan's values. "
        "Every other parameter is under “Other assumptions” in the sidebar.",
    ),
    "reach_title": (
        "各杠杆单独能使{year}年规模移动多少",
        "How far each lever alone moves {year} scale",
    ),
    "reach_help": (
        "每条横条：该杠杆单独从其范围下限取到上限（其他杠杆保持当前取值）时，{year}年工业规模的"
        "取值区间；黑色竖线为当前值，红色虚线为目标。图下列出的杠杆在当前情景下对{year}年"
        "规模几乎没有作用（变化小于0.05%）：例如需求不足时，企业想要的投资低于资金所能支持的投资，"
        "投资增速再高也不会增加投资。",
        "Each bar: {year} industrial scale as this lever alone goes from the low to the high end "
        "of its range, the other levers as they are now; the black tick is the current value, "
        "the red dashed line the target. The levers listed under the chart do almost nothing "
        "to {year} scale in this scenario (under 0.05%): e.g. when demand is short, firms want "
        "less investment than the funds allow, so faster investment growth adds no investment.",
    ),
    "reach_lever": ("杠杆", "lever"),
    "reach_low": ("取下限时", "at its low end"),
    "reach_high": ("取上限时", "at its high end"),
    "reach_flat": (
        "几乎不改变{year}年规模（<0.05%）：{names}",
        "Barely move {year} scale (<0.05%): {names}",
    ),
    "mark_baseline": ("基准", "baseline"),
    "mark_plan": ("规划", "plan"),
    "assumptions_help": (
        "除关键杠杆外的全部参数：可搜索（中英文名称），或按类别浏览。",
        "Every parameter other than the key levers: search by Chinese or English name, or "
        "browse by group.",
    ),
    "assume_search": ("搜索参数（中文或英文）", "Search parameters (Chinese or English)"),
    "assume_hits": ("找到 {n} 个参数", "{n} parameter(s) found"),
    "assume_group": ("参数类别", "Parameter group"),
    "tuned_description": (
        "基于情景 {base} 调整：{changes}。被调整的参数在不确定性分析中保持用户设定值。",
        "Scenario {base} with changes: {changes}. Parameters set by the user are held at "
        "their values in the uncertainty analysis.",
    ),
    "empty_upload": ("文件为空，不是情景文件", "the file is empty, not a scenario"),
    "upload_help": (
        "一个情景文件（与 czsim run 读取的格式相同）。上传成功后成为起始情景。",
        "A scenario file, as `czsim run` reads it. Once accepted it becomes the starting scenario.",
    ),
    "link_error": (
        "链接中有无法识别的设置，已忽略：{bad}",
        "Settings in the link that were not understood, ignored: {bad}",
    ),
    "share": ("分享链接", "Share a link"),
    "share_help": (
        "地址栏中的链接即为当前情景（含调整）；复制下方链接发给同事即可重现。",
        "The address bar always holds the current scenario with your changes; copy the link "
        "below to share it.",
    ),
    "share_upload": (
        "上传的情景只存在于本次会话，链接中只包含调整。",
        "An uploaded scenario lives in this session only; the link holds only your changes.",
    ),
    "h_target": ("目标 {target}（{year}年）", "target {target} ({year})"),
    "h_margin": ("余量 {margin}（{pct}%）", "margin {margin} ({pct}%)"),
    "h_first": ("{year}年首次达到", "first reached {year}"),
    "h_never": ("模拟期内未达到", "not reached within the simulation"),
    "h_probability": ("达成概率 {p}%", "probability {p}%"),
    "h_probability_note": (
        "达成概率：对情景 [uncertain] 中未被用户调整的参数拉丁超立方抽样 {n} 次（种子 2022）。",
        "Probability: {n} Latin-hypercube draws (seed 2022) of the scenario's [uncertain] "
        "parameters that the user did not set.",
    ),
    "counts_explained": (
        "共 {total} 项目标：**模型计算** {model} 项（达成 {model_reached}）；"
        "**进度核对** {counter} 项（模型不解释：只比较目标所需的年度进度与数据中的进度，"
        "{with_data} 项有数据，从不判为达成）；"
        "**未建模** {untracked} 项（模型中没有对应的量，见记分卡说明）。",
        "{total} targets: **carried by the model** {model} ({model_reached} reached); "
        "**pace checks** {counter} (the model does not explain them: the pace each target "
        "needs against the pace in the data, {with_data} with data; never scored reached); "
        "**untracked** {untracked} (no model quantity "
        "carries them; the scorecard says why).",
    ),
    "clusters_verdict": ("十大产业集群：2025年判定", "The ten clusters: verdict for 2025"),
    "col_margin": ("余量", "Margin"),
    "col_margin_pct": ("余量 %", "Margin %"),
    "tolerance_note": (
        "“≈”目标在容差范围内即为达成（目标值 ± 容差）。",
        "An “≈” target is reached within its tolerance (target ± tolerance).",
    ),
    "tick_legend": (
        "黑色竖线为目标值；✓/✗ 为是否达成。",
        "Black tick: the target; ✓/✗: reached or not.",
    ),
    "sheet_targets": ("目标与记分卡", "targets and scorecard"),
    "sheet_variables": ("全部变量", "all variables"),
    "compare_diff": ("较{first}差异", "vs {first}"),
    "compare_changed": (
        "高亮：状态与第一个情景不同的目标。",
        "Highlighted: targets whose status differs from the first scenario.",
    ),
    "unc_held": (
        "保持在用户设定值（不抽样）：{names}",
        "Held at your value (not drawn): {names}",
    ),
    "unc_sampled": ("抽样的参数（{n} 个）", "Parameters drawn ({n})"),
    "unc_joint": (
        "校准参数按后验联合抽样（正态，{n} 个；其区间仅用于敏感性分析）",
        "Fitted parameters drawn jointly from the calibration's posterior (normal, {n}; their "
        "ranges serve the sweeps only)",
    ),
    "unc_mean": ("均值", "Mean"),
    "unc_sd": ("标准差", "Std. dev."),
    "model_sector_diagram": ("模块及其联系（可缩放）", "Sectors and their links (zoomable)"),
    "model_element_diagram": ("显示元素级结构图", "Show the element-level diagram"),
    "model_zoom": ("缩放", "Zoom"),
    "model_zoom_fit": ("适应宽度", "Fit width"),
    "model_no_dot": (
        "服务器未安装 Graphviz，无法绘制结构图。",
        "Graphviz is not installed on the server: the diagram cannot be drawn.",
    ),
    "error_generic": (
        "出现错误，当前情景未变：{error}",
        "Something went wrong; the current scenario is kept: {error}",
    ),
    # --- the "What it takes" page (czsim.decisions) ---
    "page_what_it_takes": ("达标所需", "What it takes"),
    "wit_header": ("达到目标需要什么", "What it takes to reach a target"),
    "wit_caption": (
        "以当前调整后的情景为起点：每个关键杠杆单独达到目标所需的数值（盈亏平衡点），"
        "几个杠杆合起来的最小调整，以及规划情景相对本情景的差异来自哪些杠杆（Shapley 分解）。",
        "From the scenario as tuned: the value at which each key lever alone just meets the "
        "target (break-even), the smallest combined change of the levers, and which levers "
        "explain the plan's difference from this scenario (Shapley attribution).",
    ),
    "wit_target": ("目标", "Target"),
    "wit_running": ("正在批量运行模型…", "Running batches of the model…"),
    "wit_break_even": ("各关键杠杆的盈亏平衡点", "Break-even of each key lever"),
    "wit_col_lever": ("杠杆", "Lever"),
    "wit_col_status": ("结果", "Result"),
    "wit_col_current": ("当前值", "Current"),
    "wit_col_break_even": ("盈亏平衡值", "Break-even"),
    "wit_col_distance": ("距离(占取值范围)", "Distance (share of range)"),
    "wit_col_best": ("范围内最好结果", "Best within bounds"),
    "wit_status_break-even": ("◎ 有平衡点", "◎ break-even"),
    "wit_status_always_met": ("✓ 整个范围内都达成", "✓ met over the whole range"),
    "wit_status_unreachable": ("✗ 范围内无法达成", "✗ not reachable within bounds"),
    "wit_combined": ("合起来的最小调整", "The smallest combined change"),
    "wit_combined_caption": (
        "{n} 个政策杠杆（不含增长假设）；距离按各杠杆取值范围的比例计，使杠杆之间可比。",
        "{n} policy levers (growth assumptions excluded); distance in fractions of each "
        "lever's range, so levers are comparable.",
    ),
    "wit_with_probability": ("要求达成概率", "Require a probability"),
    "wit_probability": ("达成概率至少", "Probability at least"),
    "wit_solve": ("求解（约数秒）", "Solve (a few seconds)"),
    "wit_sol_reached": ("✓ 可以达成", "✓ reachable"),
    "wit_sol_already_met": ("✓ 当前已达成", "✓ already met"),
    "wit_sol_not_reachable": ("✗ 杠杆范围内无法达成", "✗ not reachable within the levers' bounds"),
    "wit_solution": (
        "**{verdict}**：目标值 {value} {unit}，达成概率 {p}%，调整距离 {distance}（{runs} 次运行）。",
        "**{verdict}**: value {value} {unit}, probability {p}%, distance {distance} ({runs} runs).",
    ),
    "wit_waterfall": (
        "规划情景相对本情景：差异来自哪里",
        "Plan against this scenario: where the difference comes from",
    ),
    "wit_waterfall_caption": (
        "差异 {diff} 按 Shapley 值分给各杠杆组，各部分之和等于差异；单独改变各组之和与差异之间的 {inter} 来自相互作用。",
        "The difference of {diff} split across lever groups by Shapley values (the parts sum "
        "to it); {inter} of it is interaction, which one-at-a-time changes miss.",
    ),
}


def t(key: str, lang: str, **fields: object) -> str:
    """Return the string ``key`` in ``lang`` (``"zh"`` or ``"en"``), with ``fields`` filled in."""
    zh, en = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**fields) if fields else text


def pick(pair: tuple[str, str], lang: str) -> str:
    """Choose from a ``(zh, en)`` pair of labels."""
    return pair[0] if lang == "zh" else pair[1]


#: Scenario file names -> (zh, en) names shown.
SCENARIO_NAMES: dict[str, tuple[str, str]] = {
    "baseline": ("基准情景", "Baseline"),
    "plan": ("规划情景", "Plan"),
    "slowdown": ("放缓情景", "Slowdown"),
    "calibrated": ("校准情景", "Calibrated"),
    "new_energy_capital": ("新能源之都", "New-energy capital"),
}


def scenario_name(name: str, lang: str) -> str:
    """Return a scenario's name in ``lang``; a tuned one (``plan_tuned``) is marked as adjusted."""
    base = name.removesuffix("_tuned")
    shown = pick(SCENARIO_NAMES[base], lang) if base in SCENARIO_NAMES else base
    if name.endswith("_tuned"):
        shown += "（已调整）" if lang == "zh" else " (adjusted)"
    return shown


#: Target display units -> (zh, en).
UNITS: dict[str, tuple[str, str]] = {
    "亿元": ("亿元", "100M yuan"),
    "家": ("家", "firms"),
    "个": ("个", "units"),
    "项": ("项", "items"),
    "件": ("件", "items"),
    "名": ("名", "people"),
    "万户": ("万户", "10k households"),
    "%": ("%", "%"),
}


def unit_text(unit: str, lang: str) -> str:
    """Return a target's display unit in ``lang``."""
    return pick(UNITS[unit], lang) if unit in UNITS else unit
