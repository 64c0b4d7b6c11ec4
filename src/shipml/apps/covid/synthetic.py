"""A synthetic export in the schema of the published ``data.csv``, for offline demos and scale tests.

SYNTHETIC DATA: generated from an epidemic curve, not observed. Reported cases are Poisson draws around a
sum of waves (each the derivative of a logistic curve: a bell of total size ``size`` centred on ``peak``)
with a weekly reporting pattern (fewer reports at the weekend, catch-up on Monday). Deaths and recovered
follow the reported cases with a lag; the districts split each day's cases by approximate population
weights; age and sex split them by fixed shares. Columns the generator does not model are 0, as blanks
were in the published file. Same ``(days, seed, start)`` → same bytes.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import numpy as np

from shipml.apps.covid.labels import DISTRICT_HEADERS

# The header of the published data.csv (datasets branch, 2022-08 … 2023-06), in order.
PUBLISHED_HEADER: tuple[str, ...] = tuple("""\
дата|всего|30days_1000|infection rate|IR7|ОРВИ|пневмония|тяжелая форма|без симптомов|госпитализировано|\
привитых|привитых пневмония|привитых умерло|кол-во тестов|кол-во тестов кумул|кол-во обследованных|\
кол-во протестированных|выявлено|выздоровели|умерли|умерли разница|мед.наблюдение|total|totalcum|positive|\
positivecum|negative|negativecum|>пенсионеры|>мед.работники|>пром.предприятия|>образов.учреждения|\
>транс.предприятия|>торговля и питание|>пищ.промышленность|>ЖКХ|>банки/юристы/недвижимость|>гос.служащие|\
>правоохранит.|>быт.услуги и досуг|>гостиницы и санатории|гостиницы|санатории|>учреж.культуры|>телеком|\
>сел.хоз.|>охрана|ЛОУ|>вахтовики|>ИП и иные работающие|>интернаты/диспансеры|>дошкольники|\
не ходят в детский сад|детсадовцы|>школьники|>студенты|>не работают/самозанятые|студенты до 18|\
студенты от 18|выписали|умерли от ковид|30days_1000die|умерли в палатах для ковид/пневмония с 1 апреля|\
доступно под ковид|занято под ковид|доступно ИВЛ|занято ИВЛ|кисл.поддержка|доступно под ковид и пневмонию|\
занято под ковид и пневмонию|до года|от 01 до 07|от 07 до 14|от 15 до 17|от 18 до 29|от 30 до 49|\
от 50 до 64|от 65|мужчины|женщины|воспитанники/учащиеся|работающие|служащие|неработающие и самозанятые|\
пенсионеры|завозные|контактные|не установлены|эпивак поступило|эпивак кумулятивно|ковивак|ковивак кумул|\
спутник лайт|спутник лайт кумул|поступило доз вакцин|поступило кумулятивно|всего поступило|компонент 1|\
компонент 2|ревакцинация|Калининград|Гурьевский городской округ|Багратионовский городской округ|\
Правдинский городской округ|Гусевский городской округ|Балтийский городской округ|\
Черняховский городской округ|Зеленоградский городской округ|Светловский городской округ|\
Гвардейский городской округ|Славский городской округ|Ладушкинский городской округ|\
Нестеровский городской округ|Светлогорский городской округ|Пионерский городской округ|\
Неманский городской округ|Полесский городской округ|Краснознаменский городской округ|\
Озёрский городской округ|Янтарный городской округ|Мамоновский городской округ|Советский городской округ|\
другие регионы|кумул. случаи|кумул.умерли|кумул.выписаны|кумул.активные|кол-во тестов / 10|\
все кроме Калининграда|отношение""".split("|"))

# (peak day, total reported cases) of each wave, roughly the region's 2020, 2021 autumn and 2022 waves.
WAVES: tuple[tuple[float, float], ...] = ((60.0, 2_000.0), (270.0, 18_000.0), (590.0, 45_000.0),
                                          (700.0, 90_000.0))
WAVE_WIDTH_DAYS = 18.0  # logistic scale; a wave lasts about 8 widths
# Reporting multiplier by weekday, Monday first: catch-up on Monday, fewer reports at the weekend.
WEEKDAY_EFFECT = np.array([1.25, 1.05, 1.0, 1.0, 1.0, 0.8, 0.6])
DEATH_LAG, DEATH_SHARE = 14, 0.012
RECOVERY_LAG, RECOVERY_SHARE = 21, 0.97
# Approximate residents in thousands (order of DISTRICT_HEADERS' correctly spelt headers), for the split
# only; not authoritative figures. The last weight is 'другие регионы' (cases from other regions).
DISTRICT_WEIGHTS = (490, 80, 33, 19, 36, 37, 50, 36, 35, 29, 19, 4, 15, 18, 12, 20, 18, 11, 13, 6, 8, 40, 10)
AGE_SHARES = (0.01, 0.04, 0.06, 0.03, 0.14, 0.33, 0.24, 0.15)
MALE_SHARE = 0.45
REGION_THOUSANDS = 1029.966


def synthetic_export(days: int = 400, seed: int = 0, start: date = date(2020, 3, 8)) -> bytes:
    """Generate ``days`` rows of a synthetic export (UTF-8 CSV bytes, ISO dates) from ``start``."""
    if days < 1:
        raise ValueError("days must be at least 1")
    rng = np.random.default_rng(seed)
    t = np.arange(days, dtype=float)
    expected = np.zeros(days)
    for peak, size in WAVES:
        shifted = (t - peak - rng.normal(0, 10)) / WAVE_WIDTH_DAYS
        bell = np.exp(-shifted) / (1 + np.exp(-shifted)) ** 2 / WAVE_WIDTH_DAYS  # sums to 1 over time
        expected += size * rng.lognormal(0, 0.15) * bell
    dates = [start + timedelta(days=i) for i in range(days)]
    weekday = WEEKDAY_EFFECT[[d.weekday() for d in dates]]
    cases = rng.poisson(expected * weekday + 0.05)
    deaths = rng.binomial(_lagged(cases, DEATH_LAG), DEATH_SHARE)
    recovered = rng.binomial(_lagged(cases, RECOVERY_LAG), RECOVERY_SHARE)
    tests = rng.poisson((800 + 20 * expected) * weekday)

    columns: dict[str, np.ndarray] = {name: np.zeros(days) for name in PUBLISHED_HEADER[1:]}
    columns["всего"], columns["умерли от ковид"], columns["выписали"] = cases, deaths, recovered
    columns["кол-во тестов"], columns["кол-во тестов кумул"] = tests, np.cumsum(tests)
    columns["infection rate"] = _spread_ratio(cases, 4)
    columns["IR7"] = _spread_ratio(cases, 7)
    columns["30days_1000"] = _trailing_sum(cases, 30) / REGION_THOUSANDS
    columns["30days_1000die"] = _trailing_sum(deaths, 30) / REGION_THOUSANDS
    symptoms = _split(rng, cases, (0.55, 0.25, 0.20))
    columns["ОРВИ"], columns["пневмония"], columns["без симптомов"] = symptoms
    places = [h for h in dict.fromkeys(DISTRICT_HEADERS) if h.endswith("округ") or h == "Калининград"]
    for name, values in zip([*places, "другие регионы"], _split(rng, cases, DISTRICT_WEIGHTS), strict=True):
        columns[name] = values
    ages = ("до года", "от 01 до 07", "от 07 до 14", "от 15 до 17", "от 18 до 29", "от 30 до 49",
            "от 50 до 64", "от 65")
    for name, values in zip(ages, _split(rng, cases, AGE_SHARES), strict=True):
        columns[name] = values
    columns["мужчины"] = rng.binomial(cases, MALE_SHARE)
    columns["женщины"] = cases - columns["мужчины"]
    active = np.cumsum(cases) - np.cumsum(recovered) - np.cumsum(deaths)
    columns["доступно под ковид"] = np.full(days, 1500)
    columns["занято под ковид"] = np.minimum(1500, np.round(0.12 * active))
    columns["кумул. случаи"], columns["кумул.умерли"] = np.cumsum(cases), np.cumsum(deaths)
    columns["кумул.выписаны"], columns["кумул.активные"] = np.cumsum(recovered), active
    columns["кол-во тестов / 10"] = tests / 10
    columns["все кроме Калининграда"] = cases - columns["Калининград"] - columns["другие регионы"]
    above = np.cumsum(columns["infection rate"] >= 1)
    below = np.cumsum(columns["infection rate"] < 1)
    columns["отношение"] = np.where(below > 0, np.round(above / np.maximum(below, 1), 2), np.nan)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PUBLISHED_HEADER)
    decimals = {"infection rate", "IR7", "30days_1000", "30days_1000die", "кол-во тестов / 10", "отношение"}
    for i, day in enumerate(dates):
        writer.writerow([day.isoformat(), *(_cell(columns[name][i], name in decimals)
                                            for name in PUBLISHED_HEADER[1:])])
    return buffer.getvalue().encode("utf-8")


def _lagged(values: np.ndarray, lag: int) -> np.ndarray:
    return np.concatenate([np.zeros(min(lag, len(values)), dtype=values.dtype), values[:-lag]])


def _trailing_sum(values: np.ndarray, window: int) -> np.ndarray:
    total = np.cumsum(values, dtype=float)
    return total - np.concatenate([np.zeros(window), total[:-window]])[: len(values)]


def _spread_ratio(cases: np.ndarray, window: int) -> np.ndarray:
    """Cases of the last ``window`` days over the ``window`` days before (0 when there were none)."""
    recent = _trailing_sum(cases, window)
    before = np.concatenate([np.zeros(window), recent[:-window]])[: len(cases)]
    return np.round(np.divide(recent, before, out=np.zeros_like(recent), where=before > 0), 2)


def _split(rng: np.random.Generator, totals: np.ndarray, weights: tuple[float, ...]) -> list[np.ndarray]:
    """Split each day's total multinomially by ``weights``; one array per weight."""
    shares = np.asarray(weights, dtype=float) / sum(weights)
    return list(rng.multinomial(totals, shares).T)


def _cell(value: float, decimal: bool) -> str:
    if np.isnan(value):
        return ""
    return f"{value:.2f}" if decimal else str(int(value))
