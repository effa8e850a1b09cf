"""Chinese question → English search keywords, offline, through a fixed glossary of policy terms.

Why a glossary: the index is English and the bundled MiniLM embedder was trained on English
only, so a Chinese question embeds to noise and shares no BM25 token with the document.
Without an LLM endpoint there is no translator, so a question is read through this table of
general Chinese policy and ICT terms, each mapped to the words this Strategy's English
translation uses ("信息化" → "informatization", "农村" → "rural countryside").

The compromise: the result is a bag of keywords, not a translation. Word order, negation and
every word not in the table are lost, so it serves retrieval only; the answer is still quoted
from the English text. The terms are general vocabulary, not answers to the QA set's questions.
"""

from __future__ import annotations

import re
import unicodedata

# Values use the document's own wording, so BM25 can match them: "added value" not "value
# added", "talent" not "personnel", "Three Rurals" for 三农. Several English words in one value
# are alternatives the document uses for the same idea.
ZH_EN_TERMS: dict[str, str] = {
    # informatization and strategy
    "信息化": "informatization",
    "国家信息化": "national informatization",
    "信息社会": "information society",
    "发展战略": "development strategy",
    "战略目标": "strategic objectives",
    "战略重点": "strategic focus",
    "战略原则": "strategic principles",
    "指导思想": "guiding ideology",
    "行动计划": "action plans",
    "保障措施": "guarantee measures",
    "五年规划": "Five-Year Plan",
    "领导小组": "Leading Group",
    "现代化": "modernization",
    "工业化": "industrialization",
    "目标": "objectives",
    "计划": "plans",
    "措施": "measures",
    "机制": "mechanisms",
    "体系": "system",
    "保障": "protection guarantee",
    "建设": "construction",
    "问题": "problems",
    # issuing bodies and the notice
    "国务院": "State Council",
    "中共中央": "CCP Central Committee",
    "党中央": "Party Centre",
    "办公厅": "General Office",
    "通知": "notice",
    # economy and the information industry
    "国内生产总值": "GDP",
    "信息产业": "information industry",
    "增加值": "added value",
    "贡献率": "contribution",
    "经济增长": "economic growth",
    "出口": "exports",
    "比重": "proportion",
    "百分比": "proportion",
    "制造业": "manufacturing",
    "服务业": "services sectors",
    "竞争力": "competitiveness",
    "企业": "enterprises",
    "中小企业": "small and mid-size enterprises",
    "年": "year",
    # technology and innovation
    "信息技术": "information technology",
    "核心技术": "core technology",
    "关键技术": "key technology",
    "自主创新": "indigenous innovation",
    "创新": "innovation",
    "知识产权": "intellectual property rights",
    "集成电路": "integrated circuits",
    "软件": "software",
    "移动通信": "mobile telecommunications",
    "数字电视": "digital television",
    "标准": "standards",
    "标准化": "standardization",
    # networks and infrastructure
    "互联网": "Internet",
    "网民": "Internet users",
    "宽带": "broadband",
    "电话": "telephone",
    "用户": "users",
    "规模": "scale",
    "网络": "network",
    "下一代网络": "next-generation networks",
    "三网融合": "three-network integration",
    "广播电视": "radio and television",
    "基础设施": "infrastructure",
    "普遍服务": "universal service",
    "电信": "telecommunications",
    # government and society
    "电子政务": "e-government",
    "电子商务": "e-commerce",
    "政府": "government",
    "公共服务": "public services",
    "社会管理": "social management",
    "监管": "supervision and management",
    "宏观调控": "macro-level regulation",
    "政府采购": "government procurement",
    "预算": "budgeting",
    "审计": "auditing",
    "社会保障": "social security",
    "就业": "employment",
    "医疗": "healthcare",
    "卫生": "health hygiene",
    "社区": "community",
    "教育": "education",
    "培训": "training",
    "文化": "culture",
    "新闻": "news",
    "媒体": "media",
    "网站": "websites",
    "国防": "national defence",
    "军事": "military",
    # security
    "信息安全": "information security",
    "网络安全": "network security",
    "安全": "security",
    "密码": "encryption",
    "风险评估": "risk assessment",
    "应急": "emergency response",
    # resources, regions, people
    "信息资源": "information resources",
    "开发利用": "exploitation and use",
    "资源共享": "resource sharing",
    "人口": "population",
    "数字鸿沟": "digital divide",
    "缩小": "narrowing reduce",
    "差距": "differences discrepancies",
    "农村": "rural countryside",
    "农业": "agriculture agricultural",
    "农民": "peasants",
    "三农": "Three Rurals",
    "城乡": "town and country",
    "地区": "regions",
    "人才": "talent",
    "人才队伍": "talent teams",
    # law, policy, cooperation
    "法律": "legal system laws",
    "法规": "laws and regulations",
    "法制": "legal system",
    "个人信息": "personal data",
    "政策": "policies",
    "财政": "fiscal financial",
    "投资": "investment",
    "体制改革": "structural reform",
    "治理": "governance",
    "国际": "international",
    "合作": "cooperation",
    "交流": "exchange",
    "世界": "worldwide global",
    "会议": "conference",
    "工作": "work",
}

# What a question asks for, so the offline answerer can tell a question for a name, a date or
# a figure ("哪个部委…" asks for a ministry) from one about a topic. Put first in the English.
ZH_QUESTION_WORDS: dict[str, str] = {
    "什么是": "what is",
    "为什么": "why",
    "如何": "how",
    "怎样": "how",
    "怎么": "how",
    "哪些": "which",
    "哪个部委": "which ministry",
    "哪个部门": "which department",
    "哪个机构": "which body",
    "谁": "who",
    "多少钱": "how much money",
    "多少": "how much",
    "几个": "how many",
    "几项": "how many",
    "什么时候": "when",
    "何时": "when",
    "哪一年": "which year",
    "哪年": "which year",
    "比例": "share proportion",
}

# Tried longest first: Python's regex alternation takes the first alternative that matches,
# so sorting by length makes "信息安全" win over "安全" and "信息化" stay one term.
_GLOSSARY = {**ZH_EN_TERMS, **ZH_QUESTION_WORDS}
_TERMS = re.compile("|".join(re.escape(t) for t in sorted(_GLOSSARY, key=len, reverse=True)))
# Latin words and numbers pass through: "GDP", "5G", "e-government", "7.2", "16.6%".
_KEPT = r"[A-Za-z0-9]+(?:[.\-][A-Za-z0-9]+)*%?"
_TOKEN = re.compile(f"(?P<term>{_TERMS.pattern})|(?P<kept>{_KEPT})")


def translate_terms(question: str) -> str:
    """The English keywords for a (Chinese) question, space-separated: what it asks for first
    ("which ministry", "when"), then its terms in question order.

    Scans left to right, taking the longest glossary term at each position; latin words and
    numbers are kept as written (full-width forms are normalised first); every other
    character, including Chinese the glossary does not know, is dropped. A keyword that
    repeats is kept once. Returns "" when nothing is recognised.
    """
    text = unicodedata.normalize("NFKC", question)
    asks: list[str] = []
    keywords: list[str] = []
    for match in _TOKEN.finditer(text):
        term = match["term"]
        word = _GLOSSARY[term] if term else match["kept"]
        target = asks if term in ZH_QUESTION_WORDS else keywords
        if word not in target:
            target.append(word)
    return " ".join(asks + keywords)
