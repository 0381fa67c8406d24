"""Which office of a municipality to ask for, by need.

Used when a town has no catalogue entry for a need: the reply points to the
town's official website and names the kind of office to ask for. These are
the names of offices every municipality has by law or national programme,
not facts about any one of them.
"""

OFFICES: dict[str, tuple[str, str]] = {
    "suicide_risk": ("保健センター・保健所（こころの相談）", "the health centre (mental health consultation)"),
    "child_abuse": ("こども家庭センター・児童相談所", "the children and family centre or child guidance centre"),
    "domestic_violence": ("配偶者暴力相談支援センター・女性相談窓口", "the spousal violence support centre or women's consultation desk"),
    "sexual_violence": ("性暴力被害者ワンストップ支援センター・女性相談窓口", "the one-stop support centre for sexual violence"),
    "loneliness": ("社会福祉協議会・地域包括支援センター", "the social welfare council or community support centre"),
    "places_to_go": ("社会福祉協議会（通いの場・サロン）", "the social welfare council (community salons)"),
    "hikikomori": ("ひきこもり相談窓口（保健センター・福祉課）", "the hikikomori consultation desk (health centre or welfare section)"),
    "mental_health": ("保健センター・保健所（こころの健康相談）", "the health centre (mental health consultation)"),
    "financial_hardship": ("生活困窮者自立相談支援窓口・福祉事務所", "the self-reliance support desk or welfare office"),
    "housing": ("生活困窮者自立相談支援窓口（住居確保給付金）", "the self-reliance support desk (housing benefit)"),
    "food": ("社会福祉協議会・生活困窮者自立相談支援窓口", "the social welfare council or self-reliance support desk"),
    "job_seeking": ("ハローワーク・地域若者サポートステーション", "Hello Work or the youth support station"),
    "workplace_trouble": ("労働基準監督署・総合労働相談コーナー", "the labour standards office (general labour consultation corner)"),
    "caregiver_burden": ("地域包括支援センター", "the community general support centre"),
    "dementia": ("地域包括支援センター", "the community general support centre"),
    "elderly_support": ("地域包括支援センター", "the community general support centre"),
    "young_carer": ("こども家庭センター・教育委員会の相談窓口", "the children and family centre"),
    "parenting": ("こども家庭センター（子育て相談）", "the children and family centre (parenting)"),
    "single_parent": ("ひとり親家庭の相談窓口（子育て支援課）", "the single-parent desk (child support section)"),
    "pregnancy": ("こども家庭センター・保健センター（妊娠相談）", "the children and family centre (pregnancy)"),
    "child_youth_trouble": ("教育委員会の相談窓口・こども家庭センター", "the board of education's consultation desk"),
    "disability": ("障害福祉課・相談支援事業所", "the disability welfare section"),
    "legal_trouble": ("市民相談・法律相談窓口", "the citizens' (legal) consultation desk"),
    "volunteer": ("社会福祉協議会（ボランティアセンター）", "the social welfare council (volunteer centre)"),
}
