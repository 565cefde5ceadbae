"""Word lists and tables of the English normalizer (data only: no logic, no regexes).

Kept apart from the rules so that a list can grow without touching them. Every table is
immutable; keys are matched case-sensitively unless the comment says otherwise.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, Optional

# ----------------------------------------------------------------------------------------- dates
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
MONTH_NUMBER: Mapping[str, int] = MappingProxyType(
    {
        **{name: index + 1 for index, name in enumerate(MONTHS)},
        **{name[:3]: index + 1 for index, name in enumerate(MONTHS) if name != "May"},
        "Sept": 9,
    }
)
"""Month names and their abbreviations (``Jan``, ``Sept``…), capitalized, to 1–12."""

# ----------------------------------------------------------------------------------------- years
YEAR_CUES: frozenset[str] = frozenset(
    "in since by of from year years until till before after during circa c ca early late mid "
    "between through around summer winter spring fall autumn christmas ad bc ce bce class "
    "vintage model season election census".split()
)
"""Lower-case words that make a following 4-digit number a year ("in 1999", "since 2010")."""

COUNT_CUES: frozenset[str] = frozenset(
    "about over under than nearly almost approximately roughly exactly some total only just "
    "least most additional another extra".split()
)
"""Lower-case words that make a following 4-digit number a count ("about 1500", "over 2000")."""

IRREGULAR_PLURALS: frozenset[str] = frozenset(
    "people men women children feet teeth mice geese sheep fish deer staff cattle police "
    "personnel folks data media criteria phenomena".split()
)
"""Plural nouns that do not end in "s" (a number before one of them is a count: "1999 people")."""

NOT_PLURAL_S: frozenset[str] = frozenset(
    "is was has does goes says sees gets makes marks brings takes comes its this his hers "
    "ours yours theirs thus plus minus versus always perhaps unless besides whereas towards "
    "afterwards as us yes bus gas".split()
)
"""Words ending in "s" that are not counted plural nouns ("1999 was", "2020 brings")."""

DIGIT_CUES: frozenset[str] = frozenset(
    "zip pin code passcode account acct extension ext serial id isbn tracking".split()
)
"""Lower-case words after which a number of three or more digits is read digit by digit ("ZIP 90210")."""

PHONE_CUES: frozenset[str] = frozenset("call phone tel telephone fax dial text cell mobile at".split())
"""Lower-case words before which "555-1234" is a phone number, not a range."""

# --------------------------------------------------------------------------------------- money
# symbol or code -> (singular, plural, subunit singular, subunit plural); no subunit: None
Currency = tuple[str, str, Optional[str], Optional[str]]
_DOLLAR: Currency = ("dollar", "dollars", "cent", "cents")
_EURO: Currency = ("euro", "euros", "cent", "cents")
_POUND: Currency = ("pound", "pounds", "penny", "pence")
_YEN: Currency = ("yen", "yen", None, None)
CURRENCIES: Mapping[str, Currency] = MappingProxyType(
    {
        "$": _DOLLAR,
        "US$": ("US dollar", "US dollars", "cent", "cents"),
        "C$": ("Canadian dollar", "Canadian dollars", "cent", "cents"),
        "A$": ("Australian dollar", "Australian dollars", "cent", "cents"),
        "€": _EURO,
        "£": _POUND,
        "¥": _YEN,
        "₹": ("rupee", "rupees", "paisa", "paise"),
        "₩": ("won", "won", None, None),
        "₽": ("ruble", "rubles", "kopek", "kopeks"),
        "USD": ("US dollar", "US dollars", "cent", "cents"),
        "CAD": ("Canadian dollar", "Canadian dollars", "cent", "cents"),
        "AUD": ("Australian dollar", "Australian dollars", "cent", "cents"),
        "EUR": _EURO,
        "GBP": ("British pound", "British pounds", "penny", "pence"),
        "JPY": ("Japanese yen", "Japanese yen", None, None),
        "CHF": ("Swiss franc", "Swiss francs", "centime", "centimes"),
        "INR": ("Indian rupee", "Indian rupees", "paisa", "paise"),
        "¢": ("cent", "cents", None, None),
    }
)
"""Currency symbols and ISO codes (as written in the text) to their spoken names."""

SCALES: Mapping[str, str] = MappingProxyType(
    {
        "thousand": "thousand", "million": "million", "billion": "billion", "trillion": "trillion",
        "k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million",
        "b": "billion", "B": "billion", "bn": "billion", "tn": "trillion",
    }
)
"""Scale words or letters after an amount ("$5k", "€1.5 million"), to their words."""

# --------------------------------------------------------------------------------------- units
# unit as written -> (singular, plural)
UNITS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "%": ("percent", "percent"),
        "°C": ("degree Celsius", "degrees Celsius"),
        "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
        "℃": ("degree Celsius", "degrees Celsius"),
        "℉": ("degree Fahrenheit", "degrees Fahrenheit"),
        "°": ("degree", "degrees"),
        "km/h": ("kilometer per hour", "kilometers per hour"),
        "kph": ("kilometer per hour", "kilometers per hour"),
        "mph": ("mile per hour", "miles per hour"),
        "m/s": ("meter per second", "meters per second"),
        "mm": ("millimeter", "millimeters"),
        "cm": ("centimeter", "centimeters"),
        "km": ("kilometer", "kilometers"),
        "m": ("meter", "meters"),
        "m²": ("square meter", "square meters"),
        "km²": ("square kilometer", "square kilometers"),
        "mg": ("milligram", "milligrams"),
        "kg": ("kilogram", "kilograms"),
        "g": ("gram", "grams"),
        "lb": ("pound", "pounds"),
        "lbs": ("pound", "pounds"),
        "oz": ("ounce", "ounces"),
        "ft": ("foot", "feet"),
        "sq ft": ("square foot", "square feet"),
        "mi": ("mile", "miles"),
        "yd": ("yard", "yards"),
        "ml": ("milliliter", "milliliters"),
        "mL": ("milliliter", "milliliters"),
        "L": ("liter", "liters"),
        "KB": ("kilobyte", "kilobytes"),
        "kB": ("kilobyte", "kilobytes"),
        "MB": ("megabyte", "megabytes"),
        "GB": ("gigabyte", "gigabytes"),
        "TB": ("terabyte", "terabytes"),
        "kbps": ("kilobit per second", "kilobits per second"),
        "Mbps": ("megabit per second", "megabits per second"),
        "Gbps": ("gigabit per second", "gigabits per second"),
        "Hz": ("hertz", "hertz"),
        "kHz": ("kilohertz", "kilohertz"),
        "MHz": ("megahertz", "megahertz"),
        "GHz": ("gigahertz", "gigahertz"),
        "ms": ("millisecond", "milliseconds"),
        "sec": ("second", "seconds"),
        "secs": ("second", "seconds"),
        "min": ("minute", "minutes"),
        "mins": ("minute", "minutes"),
        "hr": ("hour", "hours"),
        "hrs": ("hour", "hours"),
        "kW": ("kilowatt", "kilowatts"),
        "kWh": ("kilowatt hour", "kilowatt hours"),
        "W": ("watt", "watts"),
        "V": ("volt", "volts"),
        "mAh": ("milliamp hour", "milliamp hours"),
        "tsp": ("teaspoon", "teaspoons"),
        "tbsp": ("tablespoon", "tablespoons"),
    }
)
"""Unambiguous units written right after a number ("5 kg", "25°C", "60 mph")."""

GLUED_UNITS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"in": ("inch", "inches"), "h": ("hour", "hours")}
)
"""Units read as units only when glued to the number ("10in", "24h"): "5 in" is a preposition."""

# ------------------------------------------------------------------------------- abbreviations
TITLES: Mapping[str, str] = MappingProxyType(
    {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Prof": "Professor"}
)
"""Titles always expanded (the dot is optional for Mr, Mrs and Ms)."""

TITLES_BEFORE_NAME: Mapping[str, str] = MappingProxyType(
    {
        "Gen": "General", "Capt": "Captain", "Lt": "Lieutenant", "Sgt": "Sergeant",
        "Col": "Colonel", "Rev": "Reverend", "Gov": "Governor", "Sen": "Senator",
        "Rep": "Representative", "Pres": "President", "Mt": "Mount", "Ft": "Fort",
        "Hon": "Honorable", "Supt": "Superintendent",
    }
)
"""Expanded (dot required) only before a capitalized word: "Gen. Lee", "Mt. Everest"."""

AFTER_NAME: Mapping[str, str] = MappingProxyType(
    {
        "Jr": "Junior", "Sr": "Senior", "Inc": "Incorporated", "Ltd": "Limited",
        "Corp": "Corporation", "Co": "Company", "Bros": "Brothers",
        "Ave": "Avenue", "Rd": "Road", "Blvd": "Boulevard", "Ln": "Lane", "Hwy": "Highway",
        "Pl": "Place", "Ct": "Court", "Sq": "Square", "Pkwy": "Parkway",
    }
)
"""Abbreviations that follow a name (dot required): "John Smith Jr.", "Acme Inc.", "Oak Ave."."""

PLAIN_ABBREVIATIONS: Mapping[str, str] = MappingProxyType(
    {
        "etc": "et cetera", "approx": "approximately", "vs": "versus", "dept": "department",
        "Dept": "Department", "misc": "miscellaneous",
        "govt": "government", "Univ": "University", "Assn": "Association",
    }
)
"""Abbreviations read the same anywhere (dot required except for "vs")."""

BEFORE_NUMBER: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "No": ("number", "numbers"), "no": ("number", "numbers"), "Nos": ("numbers", "numbers"),
        "Fig": ("figure", "figures"), "fig": ("figure", "figures"),
        "Vol": ("volume", "volumes"), "vol": ("volume", "volumes"),
        "Ch": ("chapter", "chapters"), "ch": ("chapter", "chapters"),
        "Eq": ("equation", "equations"), "eq": ("equation", "equations"),
        "p": ("page", "pages"), "pp": ("pages", "pages"),
        "Sec": ("section", "sections"), "sec": ("section", "sections"),
        "Art": ("article", "articles"), "art": ("article", "articles"),
        "Apt": ("apartment", "apartments"), "apt": ("apartment", "apartments"), "Ste": ("suite", "suites"),
    }
)
"""Abbreviations with a dot expanded only before a number: "No. 5", "Fig. 3", "pp. 10-12"."""

LATIN: Mapping[str, str] = MappingProxyType(
    {
        "e.g.": "for example", "i.e.": "that is", "a.k.a.": "also known as", "cf.": "compare",
        "viz.": "namely", "et al.": "and others", "Ph.D.": "P H D", "PhD": "P H D",
    }
)
"""Dotted abbreviations read as phrases (matched case-insensitively, except Ph.D./PhD)."""

# -------------------------------------------------------------------------------------- acronyms
ACRONYM_WORDS: frozenset[str] = frozenset(
    "NASA NATO UNESCO UNICEF LASER RADAR SCUBA SONAR AIDS OPEC FIFA NAFTA ASEAN COVID IKEA "
    "GIF JPEG PIN RAM ROM SIM LAN WAN WIFI OSHA FEMA NASDAQ INTERPOL EULA CAPTCHA ZIP POTUS "
    "SCOTUS FLOTUS DARPA ESA CERN UEFA YAML WYSIWYG MASH TASER SWAT NOAA ANSI ASCII SARS JSON".split()
)
"""All-caps words read as words, not spelled ("NASA" -> "Nasa")."""

KNOWN_INITIALISMS: frozenset[str] = frozenset(
    "UCLA AARP IEEE USDA NYSE YMCA NAACP NCAA ASAP VIP URL SUV HIV NYC".split()
)
"""All-caps words of three to five letters spelled out although they look pronounceable."""

TWO_LETTER_WORDS: frozenset[str] = frozenset(
    "NO GO SO DO TO IN ON IS BE WE ME MY BY HE OF OR AN AT AS IF UP OH HI OK IT".split()
)
"""Two-letter all-caps words read as words (so "NO!" is not "N O"); "US" and "AI" are spelled."""

COMMON_THREE: frozenset[str] = frozenset(
    """THE AND FOR ARE BUT NOT YOU ALL ANY CAN HAD HER WAS ONE OUR OUT DAY GET HAS HIM HIS HOW
    MAN NEW NOW OLD SEE TWO WAY WHO BOY DID ITS LET PUT SAY SHE TOO USE YES BIG HOT RUN WOW FUN
    BAD GOD END WHY TRY ASK OWN FEW OFF YET AGO AGE AIR ARM ART BAG BED BOX BUS BUY CAR CAT COW
    CRY CUP CUT DAD DOG DRY EAR EAT EGG EYE FAR FAT FIT FLY FOX GAS GUN GUY HAT HIT ICE JOB JOY
    KEY KID LAW LAY LED LEG LIE LOT LOW MAD MAP MOM NET NOR ODD OIL PAY PEN PET PIG POT RAN RED
    ROW SAD SAT SET SEA SIT SIX SKY SON SUN TAX TEA TEN TIE TOP TOY WAR WET WIN WON YOU ZOO HEY
    ADD AID AIM BET BIT BOW DIG DUE FAN FED FIX GAP GOT HID HUG JAM LAB LID
    LIP MIX MUD NAP NUT OAK OUR PAN PAT RAW RIB RID ROB SAW SEW SIN TAP TIP TON VAN WAX WEB WIT
    YEP YUM ZAP ALE AWE EVE EMU ELF ELK INK IRE OAT ORE OWL OWE OWN APE HAM HEN HER HIS""".split()
)
"""Common three-letter English words: in all caps they are read as words, not spelled."""

ONSETS: frozenset[str] = frozenset(
    """B C D F G H J K L M N P Q R S T V W X Y Z BL BR CH CL CR DR FL FR GL GR KN PH PL PR QU SC
    SCH SCR SH SHR SK SL SM SN SP SPL SPR ST STR SW TH THR TR TW WH WR SQU GN PS""".split()
)
"""Consonant clusters an English word may start with (used to judge if caps are pronounceable)."""

CODAS: frozenset[str] = frozenset(
    """B C D F G H K L M N P R S T V W X Y Z CH CK CT DS FT GHT GS KS LD LF LK LL LM LP LS LT MB
    MP MPS MS ND NDS NG NGS NK NS NT NTS NCH PS PT RB RD RF RG RK RL RM RN RP RS RST RT RTH RCH
    SH SK SP SS ST TH TS TCH WL WN WS XT YS LTH NGTH GN NC SC PH FF FS FFS SKS CKS NKS RDS RKS RTS
    LTS LDS THS PHS GHTS NCH NDS MPT""".split()
)
"""Consonant clusters an English word may end with."""

# ----------------------------------------------------------------------------- roman numerals
ROMAN_CARDINAL_CUES: frozenset[str] = frozenset(
    "chapter part book volume vol act scene section article appendix phase stage type class "
    "level war bowl episode title annex round tier mark series version canto psalm division "
    "grade league wave apollo".split()
)
"""Lower-case words before a Roman numeral read as a cardinal: "Chapter IV" -> "Chapter four"."""

REGNAL_NAMES: frozenset[str] = frozenset(
    """Elizabeth Charles James Henry Edward George William Mary Richard John Louis Peter Catherine
    Alexander Nicholas Frederick Philip Napoleon Paul Pius Leo Benedict Gregory Innocent Clement
    Francis Ferdinand Victor Umberto Juan Carlos Felipe Alfonso Isabella Anne David Robert Malcolm
    Constantine Justinian Leopold Wilhelm Otto Rudolf Gustav Harald Olaf Haakon Christian Ivan
    Boris Selim Suleiman Mehmed Ramesses Ptolemy Cleopatra Amenhotep Thutmose Sobhuza Rama Akbar""".split()
)
"""Names after which a lone "I" is the Roman numeral one ("Elizabeth I" -> "Elizabeth the first")."""

SENTENCE_OPENERS: frozenset[str] = frozenset(
    """The A An It He She We They I You This That These Those There Here In On At But And So Then
    When What Why How Who Where If As My Our His Her Their Its Your After Before Now Yet For Of
    To With Some Many Most All No Not One Two Also However Meanwhile Later Today""".split()
)
"""Capitalized words that usually open a sentence (a dot before them ends one)."""

# ------------------------------------------------------------------------------------ symbols
SYMBOLS: Mapping[str, str] = MappingProxyType(
    {
        "&": "and", "+": "plus", "=": "equals", "×": "times", "÷": "divided by", "±": "plus or minus",
        "°": "degrees", "%": "percent", "@": "at", "≈": "approximately", "≠": "is not equal to",
        "≤": "is less than or equal to", "≥": "is greater than or equal to", "<": "is less than",
        ">": "is greater than", "→": "to", "~": "about", "§": "section", "¶": "paragraph",
        "©": "copyright", "®": "registered", "™": "trademark", "√": "square root of",
        "∞": "infinity", "π": "pi", "µ": "micro", "‰": "per mille",
    }
)
"""Symbols read as words when they stand in the text (not inside a URL, number or unit)."""

URL_SYMBOLS: Mapping[str, str] = MappingProxyType(
    {
        ".": "dot", "/": "slash", "-": "dash", "_": "underscore", ":": "colon", "@": "at",
        "?": "question mark", "=": "equals", "&": "and", "#": "hash", "~": "tilde",
        "%": "percent", "+": "plus",
    }
)
"""How the punctuation inside a URL or e-mail address is read."""

UNICODE_FRACTIONS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
        "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅐": (1, 7), "⅛": (1, 8), "⅜": (3, 8),
        "⅝": (5, 8), "⅞": (7, 8), "⅑": (1, 9), "⅒": (1, 10),
    }
)
"""Vulgar fraction characters to (numerator, denominator)."""

FRACTION_IDIOMS: Mapping[str, str] = MappingProxyType(
    {"24/7": "twenty-four seven", "9/11": "nine eleven", "50/50": "fifty-fifty", "20/20": "twenty twenty",
     "365/24/7": "three sixty-five twenty-four seven"}
)
"""Slashed numbers that are names, not fractions."""

RANGE_IDIOMS: Mapping[str, str] = MappingProxyType({"50-50": "fifty-fifty", "50/50": "fifty-fifty"})
"""Hyphenated numbers that are not ranges."""
