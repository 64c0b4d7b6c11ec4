"""Russian column headers of the covid export → stable English metric ids and labels.

Every header found in any version of the published ``data.csv`` (the raw ``main`` export, the processed
``datasets`` file and its revisions, 2021-01 → 2023-06) is listed in :data:`LABELS`. Headers that were
renamed between versions but mean the same thing share one id, so a metric keeps its id across refreshes
(e.g. ``мед.работники`` → ``>мед.работники``, the misspelt ``Балтийский городской окру`` → ``…округ``).
Two headers that occur side by side in one file never share an id.

``44348`` is the age group ``1-6`` mangled by the spreadsheet: Google Sheets read "1-6" as the date 1 June
2021, serial number 44348 (the 2021-01-03 revision still has ``1-6`` in the same position, with the same
value on 2020-12-31).
"""

from __future__ import annotations

from slugify import slugify

# header: (id, English label, unit, group)
LABELS: dict[str, tuple[str, str, str, str]] = {
    # cases
    "всего": ("cases", "New cases", "people", "cases"),
    "30days_1000": ("cases_30d_per_1000", "Cases in the last 30 days per 1,000 people", "per 1000", "cases"),
    "infection rate": ("infection_rate", "Infection rate (4-day spread coefficient)", "ratio", "cases"),
    "IR7": ("infection_rate_7d", "Infection rate (7-day spread coefficient)", "ratio", "cases"),
    "ОРВИ": ("cases_ari", "New cases presenting as acute respiratory infection", "people", "cases"),
    "пневмония": ("cases_pneumonia", "New cases with pneumonia", "people", "cases"),
    "тяжелая форма": ("cases_severe", "New severe cases", "people", "cases"),
    "без симптомов": ("cases_asymptomatic", "New asymptomatic cases", "people", "cases"),
    "выписали": ("recovered", "Discharged as recovered", "people", "cases"),
    "завозные": ("cases_imported", "Imported cases", "people", "cases"),
    "контактные": ("cases_contact", "Cases among known contacts", "people", "cases"),
    "не установлены": ("cases_source_unknown", "Cases with unknown source", "people", "cases"),
    "выявлено": ("cases_official_cum", "Detected, cumulative (official report)", "people", "cases"),
    "выздоровели": ("recovered_official_cum", "Recovered, cumulative (official report)", "people", "cases"),
    "мед.наблюдение": ("under_observation", "Under medical observation", "people", "cases"),
    # deaths
    "умерли от ковид": ("deaths", "Deaths from COVID-19", "people", "deaths"),
    "30days_1000die": ("deaths_30d_per_1000", "Deaths in the last 30 days per 1,000 people", "per 1000",
                       "deaths"),
    "умерли в палатах для ковид/пневмония с 1 апреля": (
        "deaths_in_covid_wards", "Deaths in COVID/pneumonia wards (since 1 April)", "people", "deaths"),
    "умерли": ("deaths_official_cum", "Deaths, cumulative (official report)", "people", "deaths"),
    "умерли разница": ("deaths_official_new", "New deaths (difference of the official report)", "people",
                       "deaths"),
    # tests
    "кол-во тестов": ("tests", "Tests done", "tests", "tests"),
    "кол-во тестов кумул": ("tests_cum", "Tests done, cumulative", "tests", "tests"),
    "кол-во обследованных": ("people_examined", "People examined", "people", "tests"),
    "кол-во протестированных": ("people_tested_cum", "People tested, cumulative", "people", "tests"),
    "total": ("lab_tests", "Invitro lab tests", "tests", "tests"),
    "totalcum": ("lab_tests_cum", "Invitro lab tests, cumulative", "tests", "tests"),
    "positive": ("lab_tests_positive", "Invitro lab tests, positive", "tests", "tests"),
    "positivecum": ("lab_tests_positive_cum", "Invitro lab tests, positive, cumulative", "tests", "tests"),
    "negative": ("lab_tests_negative", "Invitro lab tests, negative", "tests", "tests"),
    "negativecum": ("lab_tests_negative_cum", "Invitro lab tests, negative, cumulative", "tests", "tests"),
    # hospital
    "госпитализировано": ("hospitalized", "Hospitalised", "people", "hospital"),
    "доступно под ковид": ("beds_covid_available", "COVID beds available", "beds", "hospital"),
    "занято под ковид": ("beds_covid_occupied", "COVID beds occupied", "beds", "hospital"),
    "доступно ИВЛ": ("ventilators_available", "Ventilators available", "ventilators", "hospital"),
    "занято ИВЛ": ("ventilators_occupied", "Ventilators in use", "ventilators", "hospital"),
    "кисл.поддержка": ("oxygen_support", "Patients on oxygen support", "people", "hospital"),
    "доступно под ковид и пневмонию": (
        "beds_covid_pneumonia_available", "COVID and pneumonia beds available", "beds", "hospital"),
    "занято под ковид и пневмонию": (
        "beds_covid_pneumonia_occupied", "COVID and pneumonia beds occupied", "beds", "hospital"),
    # vaccination
    "привитых": ("cases_vaccinated", "New cases among vaccinated people", "people", "vaccination"),
    "привитых пневмония": ("cases_vaccinated_pneumonia", "Vaccinated cases with pneumonia", "people",
                           "vaccination"),
    "привитых умерло": ("deaths_vaccinated", "Deaths among vaccinated people", "people", "vaccination"),
    "эпивак поступило": ("doses_epivac", "EpiVacCorona doses delivered", "doses", "vaccination"),
    "эпивак кумулятивно": ("doses_epivac_cum", "EpiVacCorona doses delivered, cumulative", "doses",
                           "vaccination"),
    "ковивак": ("doses_covivac", "CoviVac doses delivered", "doses", "vaccination"),
    "ковивак кумул": ("doses_covivac_cum", "CoviVac doses delivered, cumulative", "doses", "vaccination"),
    "спутник лайт": ("doses_sputnik_light", "Sputnik Light doses delivered", "doses", "vaccination"),
    "спутник лайт кумул": ("doses_sputnik_light_cum", "Sputnik Light doses delivered, cumulative", "doses",
                           "vaccination"),
    "поступило доз вакцин": ("doses", "Vaccine doses delivered", "doses", "vaccination"),
    "поступило кумулятивно": ("doses_cum", "Vaccine doses delivered, cumulative", "doses", "vaccination"),
    "всего поступило": ("doses_total", "Vaccine doses delivered, all vaccines", "doses", "vaccination"),
    "компонент 1": ("vaccinated_first_dose", "People vaccinated, first component", "people", "vaccination"),
    "компонент 2": ("vaccinated_second_dose", "People vaccinated, second component", "people",
                    "vaccination"),
    "ревакцинация": ("revaccinated", "People revaccinated", "people", "vaccination"),
    # age and sex of new cases
    "до года": ("age_under_1", "Cases aged under 1", "people", "age"),
    "44348": ("age_1_6", "Cases aged 1–6", "people", "age"),
    "1-6": ("age_1_6", "Cases aged 1–6", "people", "age"),
    "от 01 до 07": ("age_1_6", "Cases aged 1–6", "people", "age"),
    "7-14": ("age_7_14", "Cases aged 7–14", "people", "age"),
    "от 07 до 14": ("age_7_14", "Cases aged 7–14", "people", "age"),
    "15-17": ("age_15_17", "Cases aged 15–17", "people", "age"),
    "от 15 до 17": ("age_15_17", "Cases aged 15–17", "people", "age"),
    "18-29": ("age_18_29", "Cases aged 18–29", "people", "age"),
    "от 18 до 29": ("age_18_29", "Cases aged 18–29", "people", "age"),
    "30-49": ("age_30_49", "Cases aged 30–49", "people", "age"),
    "от 30 до 49": ("age_30_49", "Cases aged 30–49", "people", "age"),
    "50-64": ("age_50_64", "Cases aged 50–64", "people", "age"),
    "от 50 до 64": ("age_50_64", "Cases aged 50–64", "people", "age"),
    "65+": ("age_65_plus", "Cases aged 65 and over", "people", "age"),
    "от 65": ("age_65_plus", "Cases aged 65 and over", "people", "age"),
    "мужчины": ("sex_male", "Cases among men", "people", "sex"),
    "женщины": ("sex_female", "Cases among women", "people", "sex"),
    # occupation and social status of new cases (old header, then the '>'-prefixed one from 2021-03)
    "пенсионеры": ("pensioners", "Pensioners", "people", "occupation"),
    ">пенсионеры": ("occ_pensioners", "Occupation: pensioners", "people", "occupation"),
    "мед.работники": ("occ_medical", "Occupation: medical workers", "people", "occupation"),
    ">мед.работники": ("occ_medical", "Occupation: medical workers", "people", "occupation"),
    "пром.предприятия": ("occ_industry", "Occupation: industry", "people", "occupation"),
    ">пром.предприятия": ("occ_industry", "Occupation: industry", "people", "occupation"),
    "образов.уч.": ("occ_education", "Occupation: education", "people", "occupation"),
    ">образов.учреждения": ("occ_education", "Occupation: education", "people", "occupation"),
    "транспортн.предприятие": ("occ_transport", "Occupation: transport", "people", "occupation"),
    ">транс.предприятия": ("occ_transport", "Occupation: transport", "people", "occupation"),
    "торговля и питание": ("occ_retail_catering", "Occupation: retail and catering", "people", "occupation"),
    ">торговля и питание": ("occ_retail_catering", "Occupation: retail and catering", "people",
                            "occupation"),
    "пищ.пром": ("occ_food_industry", "Occupation: food industry", "people", "occupation"),
    ">пищ.промышленность": ("occ_food_industry", "Occupation: food industry", "people", "occupation"),
    "ЖКХ": ("occ_utilities", "Occupation: housing and utilities", "people", "occupation"),
    ">ЖКХ": ("occ_utilities", "Occupation: housing and utilities", "people", "occupation"),
    "банки, юрфирмы, агентства недвиж.": (
        "occ_finance_legal_real_estate", "Occupation: banks, law firms, real estate", "people", "occupation"),
    ">банки/юристы/недвижимость": (
        "occ_finance_legal_real_estate", "Occupation: banks, law firms, real estate", "people", "occupation"),
    ">гос.служащие": ("occ_civil_servants", "Occupation: civil servants", "people", "occupation"),
    "правоохранит.": ("occ_law_enforcement", "Occupation: law enforcement", "people", "occupation"),
    ">правоохранит.": ("occ_law_enforcement", "Occupation: law enforcement", "people", "occupation"),
    "быт.услуги и досуг": ("occ_services_leisure", "Occupation: consumer services and leisure", "people",
                           "occupation"),
    ">быт.услуги и досуг": ("occ_services_leisure", "Occupation: consumer services and leisure", "people",
                            "occupation"),
    "гостиницы, санатории": ("occ_hotels_sanatoriums", "Occupation: hotels and sanatoriums", "people",
                             "occupation"),
    ">гостиницы и санатории": ("occ_hotels_sanatoriums", "Occupation: hotels and sanatoriums", "people",
                               "occupation"),
    "гостиницы": ("occ_hotels", "Occupation: hotels", "people", "occupation"),
    "санатории": ("occ_sanatoriums", "Occupation: sanatoriums", "people", "occupation"),
    "культура": ("occ_culture", "Occupation: culture", "people", "occupation"),
    ">учреж.культуры": ("occ_culture", "Occupation: culture", "people", "occupation"),
    "телеком": ("occ_telecom", "Occupation: telecom", "people", "occupation"),
    ">телеком": ("occ_telecom", "Occupation: telecom", "people", "occupation"),
    "сх": ("occ_agriculture", "Occupation: agriculture", "people", "occupation"),
    ">сел.хоз.": ("occ_agriculture", "Occupation: agriculture", "people", "occupation"),
    "охрана": ("occ_security", "Occupation: security guards", "people", "occupation"),
    ">охрана": ("occ_security", "Occupation: security guards", "people", "occupation"),
    "ЛОУ": ("occ_summer_camps", "Occupation: summer health camps", "people", "occupation"),
    ">ЛОУ": ("occ_summer_camps", "Occupation: summer health camps", "people", "occupation"),
    "вахтовики": ("occ_rotation_workers", "Occupation: rotation (shift-camp) workers", "people",
                  "occupation"),
    ">вахтовики": ("occ_rotation_workers", "Occupation: rotation (shift-camp) workers", "people",
                   "occupation"),
    "ИП и иные": ("occ_sole_traders_other", "Occupation: sole traders and other workers", "people",
                  "occupation"),
    ">ИП и иные работающие": ("occ_sole_traders_other", "Occupation: sole traders and other workers",
                              "people", "occupation"),
    "интернаты, биспансеры": ("occ_care_homes", "Occupation: boarding schools and care homes", "people",
                              "occupation"),
    ">интернаты/диспансеры": ("occ_care_homes", "Occupation: boarding schools and care homes", "people",
                              "occupation"),
    "дошкольники": ("occ_preschoolers", "Preschool children", "people", "occupation"),
    ">дошкольники": ("occ_preschoolers", "Preschool children", "people", "occupation"),
    "не ходят в детский сад": ("occ_not_in_kindergarten", "Preschool children not in kindergarten",
                               "people", "occupation"),
    "детсадовцы": ("occ_kindergarten", "Kindergarten children", "people", "occupation"),
    "школьники": ("occ_schoolchildren", "Schoolchildren", "people", "occupation"),
    ">школьники": ("occ_schoolchildren", "Schoolchildren", "people", "occupation"),
    "студенты": ("occ_students", "Students", "people", "occupation"),
    ">студенты": ("occ_students", "Students", "people", "occupation"),
    "студенты до 18": ("occ_students_under_18", "Students under 18", "people", "occupation"),
    "студенты от 18": ("occ_students_18_plus", "Students 18 and over", "people", "occupation"),
    "не работают/самозаняты": ("occ_unemployed_self_employed", "Not working or self-employed", "people",
                               "occupation"),
    ">не работают/самозанятые": ("occ_unemployed_self_employed", "Not working or self-employed", "people",
                                 "occupation"),
    "воспитанники/учащиеся": ("status_pupils", "Status: pupils and students", "people", "occupation"),
    "работающие": ("status_working", "Status: working", "people", "occupation"),
    "служащие": ("status_employees", "Status: office employees", "people", "occupation"),
    "неработающие и самозанятые": ("status_unemployed_self_employed", "Status: not working or self-employed",
                                   "people", "occupation"),
    # the original's own derived columns, as published (we recompute ours; these stay for comparison)
    "кумул. случаи": ("cases_cum_published", "Cumulative cases (as published)", "people", "derived"),
    "кумул.умерли": ("deaths_cum_published", "Cumulative deaths (as published)", "people", "derived"),
    "кумул.выписаны": ("recovered_cum_published", "Cumulative recovered (as published)", "people",
                       "derived"),
    "кумул.активные": ("active_published", "Active cases (as published)", "people", "derived"),
    "кол-во тестов / 10": ("tests_div10_published", "Tests / 10 (as published)", "tests", "derived"),
    "все кроме Калининграда": ("districts_except_city_published",
                               "Cases in all districts except Kaliningrad city (as published)", "people",
                               "derived"),
    "отношение": ("ir_days_ratio_published", "Days with IR ≥ 1 per day with IR < 1 (as published)", "ratio",
                  "derived"),
    "другие регионы": ("cases_other_regions", "Cases registered from other regions", "people", "districts"),
}

# header: (id, English name) of the 22 municipalities; misspelt headers of the 2020 sheet included.
DISTRICT_HEADERS: dict[str, tuple[str, str]] = {
    "Калининград": ("district_kaliningrad", "Kaliningrad (city)"),
    "Гурьевский городской округ": ("district_guryevsk", "Guryevsk"),
    "Багратионовский городской округ": ("district_bagrationovsk", "Bagrationovsk"),
    "Правдинский городской округ": ("district_pravdinsk", "Pravdinsk"),
    "Гусевский городской округ": ("district_gusev", "Gusev"),
    "Балтийский городской округ": ("district_baltiysk", "Baltiysk"),
    "Черняховский городской округ": ("district_chernyakhovsk", "Chernyakhovsk"),
    "Зеленоградский городской округ": ("district_zelenogradsk", "Zelenogradsk"),
    "Светловский городской округ": ("district_svetly", "Svetly"),
    "Гвардейский городской округ": ("district_gvardeysk", "Gvardeysk"),
    "Славский городской округ": ("district_slavsk", "Slavsk"),
    "Ладушкинский городской округ": ("district_ladushkin", "Ladushkin"),
    "Нестеровский городской округ": ("district_nesterov", "Nesterov"),
    "Светлогорский городской округ": ("district_svetlogorsk", "Svetlogorsk"),
    "Пионерский городской округ": ("district_pionersky", "Pionersky"),
    "Неманский городской округ": ("district_neman", "Neman"),
    "Полесский городской округ": ("district_polessk", "Polessk"),
    "Краснознаменский городской округ": ("district_krasnoznamensk", "Krasnoznamensk"),
    "Озёрский городской округ": ("district_ozyorsk", "Ozyorsk"),
    "Янтарный городской округ": ("district_yantarny", "Yantarny"),
    "Мамоновский городской округ": ("district_mamonovo", "Mamonovo"),
    "Советский городской округ": ("district_sovetsk", "Sovetsk"),
}
for _name in ("Балтийский", "Черняховский", "Зеленоградский", "Славский", "Советский"):
    DISTRICT_HEADERS[f"{_name} городской окру"] = DISTRICT_HEADERS[f"{_name} городской округ"]
for _header, (_id, _english) in DISTRICT_HEADERS.items():
    LABELS[_header] = (_id, f"Cases in {_english}", "people", "districts")

def transliterate_id(header: str) -> str:
    """A snake_case ASCII id for a header without a label: ``'новый столбец'`` → ``'novyi_stolbets'``
    (python-slugify's transliteration)."""
    slug = slugify(header, separator="_") or "column"
    return f"col_{slug}" if slug[0].isdigit() else slug
