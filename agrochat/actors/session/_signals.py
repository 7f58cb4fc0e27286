"""What a producer's message says on its face, read by code: the cues that decide most messages
before (or instead of) the model.

A 0.5B model is no classifier (DESIGN.md, measured: 23/42 intents right zero-shot), and the
kinds of message that matter most for trust are the easiest to recognise by their words: a
greeting with nothing else, a request for a person, a dose or a price (which no vetted entry
ever gives), a report of a pest in the producer's own field. Lexicons are folded words or word
starts (``stem*``), matched on the message's words as the knowledge index's speller spells them
(``Index.words``: WhatsApp shorthand expanded, "elada" -> "helada").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agrochat.knowledge import asked_figure
from agrochat.text import contains_phrase, fold


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _lexicon(text: str) -> tuple[str, ...]:
    """Words and word starts (``plaga*``), in the order written."""
    return tuple(text.split())


GREETING = _words(
    "hola holi buenas buenos saludos saludo alo hey hi bienvenido saludarle saludarte "
    "allillanchu allinllachu imaynalla napaykullayki rimaykullayki"
)
# "buenos días", "qué tal": greetings as phrases (a lone "días" is no greeting: "hace 15 días").
GREETING_PHRASE = re.compile(
    r"^(buen dia|buenos dias|buenas tardes|buenas noches|que tal|como esta|como estas|"
    r"como estan|como le va|como te va)\b"
)
THANKS = _words(
    "gracias agradezco agradecido agradecida amable bendiga bendiciones pague sulpayki "
    "yusulpayki pagarapusunki anay"
)
GOODBYE = _words("chau chao adios hasta luego pronto vemos bye cuidese cuidate")
ACK = _words(
    "ok okey okay oki listo ya entendido entiendo perfecto vale bien si claro acuerdo dale "
    "genial excelente super bueno buena correcto exacto anotado"
)
# Words that only dress a social message ("muchas gracias ingeniero, muy amable").
SOCIAL_FILLER = _words(
    "muchas mucho muy tan todo todos a el la los las y que como esta estas estan usted ustedes "
    "le te de del por su sus tu mi nuevo nueva ingeniero ingeniera inge doctor doctora senor "
    "senora senorita don dona amigo amiga hermano hermana joven mama jefe jefa lic "
    "licenciado profe profesor para con eso esto aqui todo igualmente tambien info informacion "
    "respuesta ayuda apoyo atencion dios lo me nos ahi pues pe nomas entonces oh ah eh jaja jeje "
    "dia dias tardes noches tal "
    "feliz animo fin semana voy vamos hacer hare haremos asi seguir sigo consejo consejos "
    "recomendacion recomendaciones entendi tomo nota aprendi aprender servira sirvio util "
    "estas estamos esperando espero aviso avisare pronto rato luego despues"
)

PERSON_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"\b(hablar|conversar|comunicar\w*|contactar\w*|atender\w*|atiend\w*)\b.{0,40}\b(persona|humano|"
        r"alguien|tecnico|tecnica|ingenier\w*|agronom\w*|asesor\w*|especialista|encargad\w*|"
        r"operador\w*|responsable|gente)\b",
        r"\b(llamame|llameme|llamenme|llamarme|llamen|llamada|telefonea\w*|marcame)\b",
        r"\b(me|nos) (puede|pueden|podria|podrian|podras) (llamar|telefonear|visitar)\b",
        r"\b(venga|vengan|vaya|vayan|visite|visiten)\b.{0,15}\b(el |la |un |una |algun |alguna )?"
        r"(ingenier\w*|tecnic\w*|agronom\w*|alguien|persona|especialista)\b",
        r"\b(quiero|necesito|pueden|puede|podria|podrian|manden|mande|envien|envie|"
        r"solicito|pido)\b.{0,30}\b(un |una |al |a un |a una |el |la )?(tecnico|tecnica|"
        r"ingenier\w*|agronom\w*|especialista|persona|humano|asesor\w*)\b",
        r"\b(visit\w*)\b.{0,20}\b(tecnico|ingenier\w*|agronom\w*|chacra|campo|parcela)\b",
        r"\b(no|ya no) (quiero|deseo) (hablar|escribir|chatear)\w* con (un |una )?"
        r"(bot|robot|maquina|programa|computadora)\b",
        r"\b(atencion|asesoria) (humana|personal|presencial)\b",
        r"\b(pasame|pasenme|paseme|comunicame|comuniqueme|conectame|comunicarme) con\b",
        r"\b(persona|humano|tecnico|ingenier\w*|alguien|agronom\w*)\b.{0,40}\b(atienda|atiende|"
        r"atender|responda|conteste|ayude|venga|vaya|revise|llame|pueda llamar|visite)\b",
        r"\b(venga|vengan|vaya|vayan|venir|ir)\b.{0,10}\b(a ver|a revisar|a mi chacra|a mi "
        r"parcela|a mi campo|a mi terreno)\b",
        r"\b(el|la|al|con el|con la) (ingeniero|ingeniera|tecnico|tecnica)\s+[a-z]+\b.{0,40}\b(me "
        r"dijo|quiero hablar|le escriba|se encuentra|esta el|esta ella)\b",
        r"\b(esta|se encuentra|estara) (el|la) (ingeniero|ingeniera|tecnico|tecnica|agronom\w*)\b",
        r"\b(numero|celular|telefono|contacto)\b.{0,20}\b(tecnico|ingenier\w*|agronom\w*|"
        r"oficina|agencia)\b",
    )
)

# Said of the producer's own field, now: a report, not a question about the subject in general.
PROBLEM = _lexicon(
    "plaga* gusan* insect* bich* hong* marchit* secand* secaron secan podrid* pudr* quemad* muert* "
    "muriendo muere mueren murio murieron enferm* helada* helo hela helando granizo* "
    "granizada* inund* aniego huaic* huayc* larva* polilla* pulgon* mosca* trips gorgojo* "
    "rancha roya broca cogollero* moho* pudricion danad* ataque* atacad* infestad* sigatoka "
    "monilia* mildiu tizon piricularia empoz* encharc* anegad* tumb* acamad* vanas vaneamiento "
    "desbord* ahog* arrasad* arraso pelando hormig* cortadora*"
)
# Colours and marks say "problem" only on a part of the plant ("hojas amarillas"; not "trampas
# amarillas").
WEAK_PROBLEM = _lexicon(
    "manch* amarill* negr* blanc* roj* plate* comid* agujer* huec* perforad* arrug* enrollad* "
    "chupad* picad* caid* caen cayendo polvo* bolit* seca secas seco secos chiquit* raro* "
    "rara* feo* fea*"
)
PLANT_PART = _lexicon(
    "hoja* tallo* raiz* raices fruto* flor* mazorc* grano* vaina* racimo* tuberc* papas planta* "
    "mata* cogollo* espiga* panoja* choclo* cascara* corteza* brote* yema* cebollas paltos "
    "cafetos arbol* ramas rama"
)
REPORT = _words(
    "tengo tiene tienen hay habia aparecio aparecieron aparece aparecen encontre encontramos "
    "veo vi vemos estan esta amanecio amanecieron cayo cayeron helo granizo me "
    "mis mi nuestra nuestro nuestras nuestros ataco atacaron atacando llego llegaron salio "
    "salieron salen sale empezaron empezo comenzo comenzaron siguen sigue noto note notamos "
    "acaban acabo llevo tumbo malogro desbordo inundo pelando comiendo secando matando "
    "pudriendo"
)
FIRST_PERSON = _words(
    "mi mis me tengo tenemos nuestra nuestro nuestras nuestros nos encontre encontramos veo vi "
    "vemos note notamos sembre regue"
)
# An event told as past needs no "mi": "anoche cayó granizo", "amanecieron quemadas".
PAST_EVENT = _words(
    "cayo cayeron helo granizo amanecio amanecieron murio murieron llevo tumbo malogro "
    "aparecio aparecieron ataco atacaron inundo desbordo"
)
# What the producer makes for the field rather than grows in it.
INPUTS = _words("compost abonera bocashi biol humus purin estiercol guano lombricompost")
# "¿Cómo prevengo la helada?" is a question about a risk, not a report of one; nor is the
# neighbour's field or last year's.
HYPOTHETICAL = _words(
    "si prevenir prevengo evitar evito proteger protejo protegerla protegerlo protegerlas "
    "protegerlos controlar controlo combatir combato general suele suelen podria vecino vecinos "
    "vecina zona pasado pasada anterior"
)
HYPOTHETICAL_PHRASES = ("para que no", "que no le", "que no se", "no me pase", "no le entre")
# Someone telling agrochat what to do or say: instructions inside a message change nothing.
INSTRUCTION = tuple(
    re.compile(p)
    for p in (
        r"\b(ignora|ignore|olvida|olvide|olvidate)\b.{0,30}\b(instruccion\w*|reglas|todo|lo "
        r"anterior|tu base|base de datos|indicaciones)\b",
        r"\b(crea|crear|envia|enviar|manda|mandar|publica)\b.{0,20}\b(alerta|alertas|mensaje|"
        r"mensajes|aviso|avisos)\b.{0,30}\b(todos|todas|productores|agricultores|region)\b",
        r"\b(repite|repetir|escribe|di|dile|responde|contesta)\b.{0,12}\b(exactamente|solo|"
        r"esto|que|lo siguiente|textualmente|si|conmigo)\b",
        r"\b(ahora eres|actua como|finge|fingir|haz de cuenta|modo admin|modo administrador|"
        r"modo desarrollador|prompt|instrucciones del sistema|system prompt)\b",
        r"\b(muestrame|dame|pasame|lista de|listado de)\b.{0,20}\b(agricultores|productores|"
        r"telefonos|numeros|usuarios|datos de)\b",
        r"\bno uses (tu|la) (base|informacion|fuente)",
    )
)

DOSE = tuple(
    re.compile(p)
    for p in (
        r"\bdosis\b",
        r"\b(cuant[oa]s?)\b.{0,25}\b(ml|mililitros?|cc|cucharad\w*|tapitas?|copas?|sobres?|"
        r"frascos?)\b",
        r"\b(ml|mililitros?|cc|gramos?|cucharad\w*|tapitas?)\b.{0,20}\b(por|x)\b.{0,10}\b(mochila|"
        r"cilindro|bomba|litro|galon)\w*",
        # "¿qué veneno le echo?" asks for a product; "¿qué venenos son menos peligrosos?" for
        # how to tell them apart (the label's colour band), which the base answers.
        r"\b(que|cual|cuales|algun|alguna|nombre de|nombre del)\b.{0,12}\b(producto|veneno|quimico|"
        r"insecticida|fungicida|herbicida|pesticida|plaguicida|marca|remedio)\w*\b"
        r"(?!.{0,20}\b(menos|mas) (peligros|toxic)\w*)",
        # The name of a product to buy is a recommendation only a technician gives.
        r"\b(como se llama|nombre|marca)\b.{0,15}\b(del |de |el |la |un |una )?(producto|veneno|"
        r"quimico|insecticida|fungicida|herbicida|pesticida|plaguicida|remedio)\w*\b",
        # Which products may be mixed is the labels' and a technician's call, like a dose.
        r"\bmezcl\w*\b.{0,30}\b(veneno|insecticida|fungicida|herbicida|pesticida|plaguicida|"
        r"producto|quimico|foliar)\w*\b",
        r"\b(cuant[oa]|cuanto de|que cantidad de)\b.{0,20}\b(veneno|insecticida|fungicida|"
        r"herbicida|pesticida|plaguicida|producto|quimico|clorpirifos|mancozeb|cipermetrina|"
        r"glifosato|metamidofos|carbofuran|imidacloprid|lambda|abamectina|clorotalonil|"
        r"cymoxanil|metalaxil|paraquat|sulfato|caldo)\w*\b",
        r"\b(clorpirifos|mancozeb|cipermetrina|glifosato|metamidofos|carbofuran\w*|"
        r"imidacloprid|abamectina|clorotalonil|cymoxanil|metalaxil|paraquat|furadan|tamaron|"
        r"karate|ridomil|curzate|antracol|cupravit|sevin|roundup|gramoxone)\b",
    )
)
PRICE = tuple(
    re.compile(p)
    for p in (
        r"\b(precio|precios) (de|del|para|por|en|actual|hoy)\b",
        r"\b(cuanto|cuantos soles|a cuanto|en cuanto)\b.{0,12}\b(cuesta|cuestan|vale|valen|pagan|"
        r"paga|cobran|esta|estan|compran|venden|sale)\b",
        r"\ba como (esta|estan|se vende|venden|pagan|compran|sale)\b",
        r"\b(donde|a quien|como|cuando) (vendo|vender|venderlo|venderla|venderlos|venderlas)\b",
        r"\b(mercado mayorista|cotizacion\w*|exportar|exportacion)\b",
        r"\b(dolar|dolares|tipo de cambio|euro|euros)\b",
    )
)
FORECAST = tuple(
    re.compile(p)
    for p in (
        r"\bpronostico\w*\b",
        r"\b(va|van) a (llover|helar|granizar|caer|hacer frio|hacer calor|nevar)\b",
        r"\b(llovera|helara|granizara|nevara|lloviera)\b",
        r"\b(clima|tiempo)\b.{0,25}\b(manana|pasado|semana|fin de semana|proxim\w*|esta noche)\b",
        r"\b(manana|esta noche|esta semana|pasado manana|la proxima semana)\b.{0,25}\b(llueve|"
        r"llover|helada|hiela|helar|granizo|frio|calor|lluvia)\b",
        r"\bcuando (va a |empieza a |empiezan las |llegan las |vienen las )?(llover|llueve|lluvias|"
        r"heladas)\b.{0,20}\b(este ano|esta campana|este mes|aqui|por aca|en mi zona)\b",
        r"\b(senamhi)\b",
    )
)
MONEY_AND_PAPERS = tuple(
    re.compile(p)
    for p in (
        r"\b(credito|creditos|prestamo|prestamos|agrobanco|banco|subsidio|subsidios|bono|bonos|"
        r"seguro agrario|seguro agricola|titulo de propiedad|titulacion|impuesto|sunat|"
        r"financiamiento|deuda|fondo)\b",
        r"\b(programa|apoyo|ayuda) (del|de el) (gobierno|estado|ministerio|municipio)\b",
    )
)
LIVESTOCK = _words(
    "vaca vacas toro toros ternero terneros ganado ganaderia cuy cuyes gallina gallinas pollo "
    "pollos chancho chanchos cerdo cerdos porcino oveja ovejas carnero carneros cabra cabras "
    "alpaca alpacas caballo caballos burro burros abeja abejas colmena colmenas truchas trucha "
    "peces leche ordeno ordenar veterinario becerro becerros pato patos conejo conejos perro "
    "perros perrito gato gatos mascota mascotas"
)
# Crops farmers grow that the knowledge base has no entries for.
OTHER_CROPS = _words(
    "uva uvas vid vinedo mango mangos esparrago esparragos alfalfa naranja naranjas limon "
    "limones mandarina mandarinas citricos manzana manzanas durazno duraznos melocoton fresa "
    "fresas frutilla zanahoria zanahorias ajo ajos arveja arvejas haba habas oca ocas olluco "
    "ollucos mashua camote camotes lechuga lechugas pimiento pimientos aji ajies rocoto "
    "algodon cana azucar sorgo soya soja mani pina pinas papaya papayas chirimoya lucuma "
    "maracuya granadilla tuna tunas pepino pepinos zapallo zapallos calabaza sandia melon "
    "brocoli coliflor col repollo espinaca kiwicha canihua tarwi chocho achiote jengibre "
    "kion curcuma pitahaya arandano arandanos olivo olivos aceituna coco cocos"
)
# Other crops' names that are also colours.
COLOURS = _words("naranja naranjas")
# Not about the producer's farming, whatever else the message names ("receta de papa").
OFF_TOPIC = tuple(
    re.compile(p)
    for p in (
        r"\b(futbol|partido de|gano el|goles?|campeonato|mundial|seleccion|alianza lima|"
        r"universitario|cristal|liga|equipo de futbol|juega peru|eliminatorias|clasico)\b",
        r"\b(moto|carro|auto|camioneta|casa|departamento|terreno urbano)\b.{0,20}\b(vender|"
        r"venta|darian|cuanto|precio)\b",
        r"\b(cuanto|que) me darian\b",
        r"\b(receta|recetas|cocinar|cocino|cocina|guiso|plato tipico|huancaina|ceviche|postre|"
        r"torta|pastel|keke|queque|mermelada|jugo|licuado|refresco|sopa|frito|frita|freir|"
        r"hornear|sancochad\w*|instantaneo|tomar cafe|taza|cafetera|desayuno|almuerzo|cena)\b",
        r"\b(playa|paseo|vacaciones|viaje|viajar|fiesta|cumpleanos|matrimonio|boda)\b",
        r"\b(tarea|tareas|matematica\w*|multiplica\w*|suma|sumar|resta|restar|divide|dividir|"
        r"ecuacion|examen|colegio|profesora)\b",
        r"\bcuanto es \d+",
        r"\b\d+ ?(x|por|mas|menos|entre) ?\d+\b.{0,6}$",
        r"\b(presidente|presidenta|elecciones|congreso|congresista|politica|politico|alcalde|"
        r"votar|voto|gobierno de)\b",
        r"\b(chiste|chistes|cuento|poema|poesia|cancion|canciones|musica|pelicula|peliculas|"
        r"novela|serie|netflix|tiktok|facebook|youtube|instagram)\b",
        r"\b(novia|novio|enamorad\w*|amor|casarme|esposa|esposo|cita romantica)\b",
        r"\b(horoscopo|signo|loteria|tinka|apuesta|apuestas|casino)\b",
        r"\b(celular|telefono|wifi|internet|contrasena|clave|recarga|saldo|bitcoin|cripto\w*)\b",
        r"\b(dolor de|me duele|fiebre|gripe|tos|covid|embaraz\w*|medicina para mi|pastilla|"
        r"presion alta|diabetes|dieta|adelgazar|hospital|posta|sano|saludable|engorda)\b",
        r"(^|\bdime )(que hora es|que dia es|que fecha es)\b",
        r"\b(capital de|quien descubrio|quien invento|traduce|traducir|en ingles|"
        r"historia del peru|quien es el|quien fue)\b",
        r"\b(noticia|noticias|periodico|chisme)\b",
    )
)
# The farming vocabulary: a message without any of it (and without a hit in the base) is not
# about the producer's chacra.
FARMING = _lexicon(
    "sembr* siembr* sembrio* cosech* rieg* regar rego regu* abon* fertiliz* fumig* plaga* gusan* "
    "insect* hong* hoja* raiz* raices tallo* fruto* flor* florac* semill* suelo* tierra* chacra* "
    "parcela* cultiv* planta* plantar* plantin* plantones helada* granizo* sequia* lluvia* "
    "guano* compost* estiercol* poda* podar* injert* vivero* almacig* maleza* yerba* hierba* "
    "deshierb* aporc* surco* campana* hectare* tuberc* mazorc* grano* vaina* racimo* cafetal* "
    "agricol* agricult* agronom* cal encal* ph nutrient* urea nitrogen* fosfor* potasio* "
    "enfermedad* rendimiento* variedad* germin* madur* almacen* secad* secar poscosecha* "
    "pergamino humedad "
    "cuy* ganad* vaca* pasto* forraje* agua* canal* pozo* reservorio* goteo* aspersor* "
    "aspersion* trasplant* esqueje* estaca* hijuelo* colino* choclo* espiga* panoja* "
    "mata* matas arbol* arbusto* fitosanit* senasa inia agrorural agencia* biol bocashi "
    "quimic* agroquimic* organic* purin foliar* abonera* lombri* humus veneno* fungicid* "
    "insecticid* herbicid* trampa* arar aradura barbecho voltear rotacion rotar yunta tractor"
)


def _matches_any(patterns: Iterable[re.Pattern[str]], text: str) -> bool:
    return any(p.search(text) for p in patterns)


def _has_word(words: Sequence[str], lexicon: Iterable[str]) -> list[str]:
    found = []
    for entry in lexicon:
        if entry.endswith("*"):
            start = entry[:-1]
            found += [w for w in words if w.startswith(start)]
        else:
            found += [w for w in words if w == entry]
    return found


@dataclass(frozen=True)
class Signals:
    text: str  # the message as words, folded and with WhatsApp shorthand expanded
    words: tuple[str, ...]
    greeting: bool
    thanks: bool
    goodbye: bool
    ack: bool
    only_social: bool
    asks_person: bool
    question: bool
    reports_problem: bool
    hypothetical: bool
    instruction: bool
    dose: bool
    # The kind of figure asked for (knowledge._figures): "amount", "time"…; None: none.
    quantity: str | None
    price: bool
    forecast: bool
    money: bool
    livestock: bool
    other_crops: tuple[str, ...]
    off_topic: bool
    farming: bool
    crops: tuple[str, ...]  # canonical names of the form's crops the message names
    followup: bool

    @property
    def never_answered(self) -> str | None:
        """Why no vetted entry can answer this, whatever it says otherwise."""
        if self.dose:
            return "dose"
        if self.price:
            return "price"
        if self.forecast:
            return "forecast"
        if self.money:
            return "money"
        if self.livestock:
            return "livestock"
        if self.other_crops:
            return "other_crop"
        return None


# A question starts with one of these (after any greeting), or uses one of QUESTION_WORDS.
INTERROGATIVES = _words(
    "que como cuando cuanto cuanta cuantos cuantas donde cual cuales quien porque es se "
    "sera hay puedo debo tengo"
)
QUESTION_WORDS = _words(
    "puedo debo conviene recomienda recomiendas recomiendan aconseja aconsejas sirve hago "
    "dime digame explicame expliqueme ayudame ayudeme saber necesita necesitan hacer"
)
FOLLOWUP_STARTS = ("y ", "y si ", "y para ", "y el ", "y la ", "y los ", "y las ", "entonces ")


def vocabulary() -> list[str]:
    """The whole words the cues use, for the speller (a prefix like ``plaga*`` is no word)."""
    lexicons: list[Iterable[str]] = [
        GREETING,
        THANKS,
        GOODBYE,
        ACK,
        SOCIAL_FILLER,
        HYPOTHETICAL,
        LIVESTOCK,
        OTHER_CROPS,
        QUESTION_WORDS,
        INTERROGATIVES,
        REPORT,
        [w for w in (*PROBLEM, *WEAK_PROBLEM, *FARMING, *PLANT_PART) if not w.endswith("*")],
    ]
    return [w for lexicon in lexicons for w in lexicon]


def without_instructions(text: str) -> str:
    """``text`` without its clauses that give agrochat orders ("no uses tu base de datos: ¿cuándo
    cosecho?" -> "¿cuándo cosecho?"): what is left is what retrieval should look for."""
    clauses = re.split(r"(?<=[:.;!?\n])", text)
    kept = [c for c in clauses if not _matches_any(INSTRUCTION, " ".join(fold(c).split()))]
    return "".join(kept).strip() or text


def read_signals(
    text: str, words: Sequence[str], crop_synonyms: Mapping[str, Sequence[str]]
) -> Signals:
    """The cues in a message: ``text`` as written, ``words`` as ``Index.words`` spells it.
    ``crop_synonyms``: the form's crop options (canonical -> folded words)."""
    joined = " ".join(words)
    word_set = set(words)
    raw = text.strip()

    polite_question = bool(GREETING_PHRASE.match(joined))
    greeting = bool(word_set & GREETING) or polite_question
    thanks = bool(word_set & THANKS)
    goodbye = bool(word_set & GOODBYE) or "hasta luego" in joined or "nos vemos" in joined
    ack = bool(word_set & ACK) or (not words and bool(raw))  # an emoji, a thumbs up
    social = GREETING | THANKS | GOODBYE | ACK | SOCIAL_FILLER
    leftover = [w for w in words if w not in social and not w.isdigit()]
    crops = tuple(
        canonical
        for canonical, synonyms in crop_synonyms.items()
        if any(contains_phrase(joined, fold(s)) for s in (canonical, *synonyms))
    )
    question_mark = "?" in raw or "¿" in raw
    farming_words = _has_word(words, FARMING) or _has_word(words, PROBLEM)
    only_social = (
        (greeting or thanks or goodbye or ack)
        # "¿cómo estás?" asks, but only after the producer's health: still a greeting.
        and (not question_mark or (polite_question and not leftover))
        and not crops
        and not farming_words
        # A name after the greeting ("gracias Rosa") is still only social.
        and len(leftover) <= 2
    )
    instruction = _matches_any(INSTRUCTION, joined)
    asks_person = _matches_any(PERSON_PATTERNS, joined) and not instruction
    # "cómo riego mi papa": the opening word after any greeting asks, even without "?"
    opening = [w for w in words if w not in (GREETING | SOCIAL_FILLER | THANKS) - INTERROGATIVES]
    question = (
        question_mark
        or bool(word_set & QUESTION_WORDS)
        or (bool(opening) and opening[0] in INTERROGATIVES - {"es", "hay", "tengo", "se"})
        or opening[:2] == ["por", "que"]
    )
    hypothetical = bool(word_set & HYPOTHETICAL) or any(p in joined for p in HYPOTHETICAL_PHRASES)
    problem = bool(_has_word(words, PROBLEM)) or (
        bool(_has_word(words, WEAK_PROBLEM)) and bool(_has_word(words, PLANT_PART))
    )
    # A report is about the producer's own field: said in the first person ("mis papas", "se
    # me secan", "encontré"), or an event told as past ("anoche cayó granizo"); "¿cómo se cura
    # la rancha?" is a question about a problem, not a report of one.
    first_person = bool(word_set & FIRST_PERSON)
    # A compost heap that smells is a question about making compost, not a crop at risk.
    about_an_input = bool(word_set & INPUTS) and not crops and not _has_word(words, PLANT_PART)
    reports_problem = (
        problem
        and not about_an_input
        and bool(word_set & REPORT)
        and (first_person or bool(word_set & PAST_EVENT))
        and not (question and not first_person)
        and not hypothetical
        and not instruction
    )
    # "un polvillo naranja en mis cafetos" is a colour, not the fruit.
    other_crops = tuple(sorted(word_set & OTHER_CROPS - (COLOURS if crops else frozenset())))
    followup = joined.startswith(FOLLOWUP_STARTS) or (
        len(leftover) <= 3 and question and not crops and not farming_words
    )
    return Signals(
        text=joined,
        words=tuple(words),
        greeting=greeting,
        thanks=thanks,
        goodbye=goodbye,
        ack=ack,
        only_social=only_social,
        asks_person=asks_person,
        question=question,
        reports_problem=reports_problem,
        hypothetical=hypothetical,
        instruction=instruction,
        dose=_matches_any(DOSE, joined),
        quantity=asked_figure(joined),
        price=_matches_any(PRICE, joined),
        forecast=_matches_any(FORECAST, joined),
        money=_matches_any(MONEY_AND_PAPERS, joined),
        livestock=bool(word_set & LIVESTOCK),
        other_crops=other_crops,
        off_topic=_matches_any(OFF_TOPIC, joined),
        farming=bool(farming_words) or bool(crops),
        crops=crops,
        followup=followup,
    )
