"""Word lists that tell personal information from packaging and shelf text.

Personal data in survey photos comes from handwritten notes, receipts and ID
cards; packaging, shelf labels and price tags carry product names, varieties,
brands, store chains, units, dates and lot codes. These lists hold the words
of the second kind in the languages of the data (English, French, Spanish,
Portuguese, German, Italian and Swedish), and the words that announce
personal data (name labels, phone and ID words) in English, French, Spanish
and Portuguese. Everything is compared after :func:`fold` (lower case, no
accents), so "Päron" and "paron" are one word.

Lists are data, not rules: :mod:`crowdlens.text.pii_rules` decides with them.
"""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Lower case without accents: the form every list below is compared in.

    >>> fold("Päron CRÈME")
    'paron creme'
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of ``text`` (letters only).

    >>> words("Crème-fraîche 3,5%")
    ['creme', 'fraiche']
    """
    return re.findall(r"[a-zß]+", fold(text))


def _set(text: str) -> frozenset[str]:
    return frozenset(fold(text).split())


#: Months and weekdays (full and common abbreviations) in the data's languages.
MONTHS = _set(
    """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre
    janv fevr avr juil
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre
    diciembre ene abr ago dic
    janeiro fevereiro marco maio junho julho setembro outubro novembro dezembro fev out dez
    januar februar marz juni juli oktober dezember mai okt
    januari februari mars maj augusti
    monday tuesday wednesday thursday friday saturday sunday
    lundi mardi mercredi jeudi vendredi samedi dimanche
    lunes martes miercoles jueves viernes sabado domingo
    segunda terca quarta quinta sexta
    mandag tisdag onsdag torsdag fredag lordag sondag
    """
)

#: Produce, dairy, drinks and grocery words, and their labels' vocabulary.
GROCERY = _set(
    """
    apple apples pear pears banana bananas orange oranges lemon lemons lime limes mango
    melon melons watermelon kiwi peach nectarine plum plums papaya pineapple pomegranate
    grapefruit grape grapes satsuma satsumas clementines mandarin tangerine
    avocado avocados passion fruit fruits berries strawberry strawberries
    raspberry blueberry cherries apricot fig figs coconut date dates
    asparagus aubergine eggplant mushroom mushrooms cabbage carrot carrots cucumber
    garlic ginger leek leeks onion onions pepper peppers potato potatoes beet beetroot
    tomato tomatoes zucchini courgette lettuce salad spinach broccoli cauliflower celery
    bean beans pea peas corn herbs parsley basil dill chili chilli squash pumpkin radish
    milk oat oats oatmilk yoghurt yogurt yoghurts yogurts cream sour soy soya juice juices
    smoothie drink drinks water butter cheese egg eggs bread flour sugar salt oil
    coffee tea jam chocolate cereal muesli granola
    organic fresh natural natur original classic light lite low fat fatfree skimmed
    semi whole full lactose lactosefree free gluten vegan plain greek vanilla strawberry
    sweet sweetened unsweetened extra premium family value pack large small medium mini
    red yellow golden pink blue
    product products produce price prices offer offers sale special promo promotion
    discount save kilo kilogram gram grams litre liter litres liters piece pieces each
    per unit units weight net vol ingredients nutrition energy protein carbohydrate
    best before use expiry expires exp lot batch barcode quality class origin country
    grown packed imported produced made product of
    pomme pommes poire poires banane bananes citron citrons mangue melon pasteque peche
    prune ananas grenade pamplemousse raisin fraise framboise cerise abricot figue
    asperge aubergine champignon chou carotte carottes concombre ail gingembre poireau
    oignon poivron pomme terre tomate courgette salade epinard haricot
    lait avoine yaourt creme fraiche jus boisson eau beurre fromage oeuf oeufs pain riz
    sucre huile cafe the miel confiture chocolat bio frais naturel nature entier
    ecreme demi leger sans sucre prix promo offre kilo piece poids ingredients
    origine categorie consommer avant
    manzana manzanas pera peras platano platanos banana naranja naranjas limon mango
    melon sandia melocoton ciruela pina granada pomelo uva uvas fresa fresas cereza
    esparrago berenjena champinon repollo col zanahoria zanahorias pepino ajo jengibre
    puerro cebolla cebollas pimiento patata patatas papa papas tomate tomates calabacin
    lechuga leche avena yogur nata zumo jugo bebida agua mantequilla queso huevo huevos
    pan arroz harina azucar aceite cafe miel entera entero desnatada semidesnatada
    natural fresco fresca ecologico organico precio oferta unidad kilo peso origen
    maca macas pera laranja laranjas limao manga melancia pessego ameixa abacaxi
    uva morango cereja aspargo berinjela cogumelo repolho couve cenoura pepino alho
    gengibre alho-poro cebola pimentao batata tomate abobrinha alface leite aveia iogurte
    natas suco sumo bebida agua manteiga queijo ovo ovos pao arroz acucar azeite oleo
    integral desnatado fresco preco oferta promocao unidade quilo tipo
    apfel birne banane zitrone orange melone pfirsich pflaume ananas traube erdbeere
    gurke knoblauch ingwer zwiebel paprika kartoffel tomate milch hafer joghurt sahne
    saft wasser butter kase brot reis zucker frisch preis angebot stuck
    mela pera arancia limone pesca fragola pomodoro patata cipolla latte succo acqua
    formaggio pane fresco prezzo offerta
    apple applen appel appeln aepple applet paron paronen banan bananer citron citroner
    lime mango melon vattenmelon kiwi persika nektarin plommon papaya ananas granatapple
    grapefrukt druvor jordgubbar hallon blabar korsbar aprikos avokado passionsfrukt
    sparris aubergin svamp champinjon champinjoner kal vitkal rodkal morot morotter
    gurka vitlok ingefara purjolok lok gul gula rod roda gron grona potatis tomat
    tomater squash zucchini sallad spenat broccoli blomkal bonor artor majs dill
    persilja rodbeta rodbetor betor
    mjolk havre havredryck filmjolk fil yoghurt grekisk turkisk graddfil creme fraiche
    gradde juice dryck vatten smor ost agg brod ris mjol socker olja kaffe te honung
    sylt choklad mellan standard latt lattmjolk mellanmjolk standardmjolk
    ekologisk eko krav fairtrade farsk farska naturell osotad sotad sot syrlig
    laktosfri glutenfri vegansk original klassisk hel halv bit bitar skivad skivade
    pris jamforpris jmfpris jfr kampanj extrapris erbjudande spara rea kilopris styck
    st kg hg forp forpackning klass ursprung sverige svensk svenska spanien italien
    frankrike holland nederlanderna sydafrika chile argentina brasilien peru israel
    marocko egypten costa rica colombia ecuador tyskland polen danmark nyzeeland
    basta fore senast forbrukas tillverkad packad producerad barn
    """
)

#: Fruit and vegetable varieties and brand names that read like people's names.
#: Compared as whole folded phrases (a name of one of these words stays a name).
NOT_NAME_PHRASES = frozenset(
    fold(p)
    for p in (
        "Granny Smith", "Pink Lady", "Royal Gala", "Golden Delicious", "Red Delicious",
        "Ingrid Marie", "Cox Orange", "Kaiser Alexander", "Conference", "Santa Maria",
        "Abate Fetel", "Doyenne du Comice", "Williams Christ", "Belle de Boskoop",
        "Reine Claude", "Ben Jerry", "Uncle Ben", "Aunt Jemima", "Dr Oetker", "Mr Proper",
        "Marie Biscuit", "Juan Valdez", "Don Simon", "Carte Noire", "Mother Dairy",
    )
)  # fmt: skip

#: Store chains and brands of the surveyed markets (words that are never names).
CHAINS_AND_BRANDS = _set(
    """
    ica coop willys hemkop lidl aldi netto citygross tempo konsum maxi
    carrefour auchan leclerc intermarche monoprix casino franprix super u systeme
    tesco sainsbury sainsburys asda morrisons waitrose walmart target costco kroger
    safeway wholefoods whole foods
    mercadona dia eroski alcampo hipercor corte ingles consum
    continente pingo doce minipreco extra assai atacadao guanabara
    rewe edeka kaufland spar
    oxxo soriana chedraui bodega aurrera exito jumbo olimpica
    shoprite checkers pick pay woolworths naivas tuskys quickmart reliance bazaar dmart
    arla oatly alpro valio yoplait danone activia actimel skanemejerier garant ekstrom
    innocent tropicana bravo god morgon proviva froosh nestle kelloggs heinz
    zeta eldorado favorit pagen findus
    chiquita dole delmonte del monte fyffes zespri sunkist jaffa
    """
)

#: Words that announce a person's name on the same line (or the line before).
NAME_CUES = _set(
    """
    name names nom prenom nombre nombres apellido apellidos nome sobrenome
    mr mrs ms miss dr sr sra srta mme mlle monsieur madame senor senora dona dom
    client customer cliente signed signature signe firma assinatura contact contacto
    contato att attn attention atencion para from de la part owner titular proprietaire
    dear cher chere estimado querido caro
    """
)

#: Words that announce a phone number.
PHONE_CUES = _set(
    """
    tel tel. tél phone telephone telefone telefono teléfono tlf tfno fone cell cel
    celular mobile mob portable movil whatsapp call fax gsm contact contacto contato
    appeler llamar ligar ring telefon handy cellulare telf tfn
    """
)

#: Words that announce an identity-document or personal number.
ID_CUES = _set(
    """
    id ident identity identification identite identidad identidade passport passeport
    pasaporte passaporte dni nie nif cni cin cpf rg rut rfc curp ssn nin nino insee
    cedula secu securite social social security licence license licencia carteira
    permis document documento doc national nacional
    """
)

#: Words that say a number is a date, a lot, a price, a weight or a product code.
NUMBER_NOT_PERSONAL = _set(
    """
    best before bbe bb exp expiry expires use by sell display until lot batch charge
    l lote lotto partida consommer avant dluo ddm dlc consumir preferente caducidad
    validade val fab fabricado fabrication prod production producerad packad packed
    tillverkad basta fore senast mhd mindestens haltbar bis
    price prix precio preco preis prezzo pris jfr jmf jmfpris jamforpris kr sek eur usd
    kg g gr hg mg ml cl dl l lt ltr oz lb lbs st pcs pc pack forp net netto vikt weight
    poids peso kcal kj ean plu sku art artnr code codigo item ref nr barcode
    """
)


def is_not_name_word(word: str) -> bool:
    """Whether folded ``word`` is packaging, produce, calendar or store vocabulary.

    >>> is_not_name_word("päron"), is_not_name_word("lopez")
    (True, False)
    """
    w = fold(word)
    return w in GROCERY or w in MONTHS or w in CHAINS_AND_BRANDS
