"""Common given names and surnames of the surveyed regions.

A name read from a photo is believed when it carries one of these (or a cue
such as "Name:"): Latin America, Europe, Africa and South and South-East
Asia, as the World Bank's price-survey pilots covered. Compared folded (lower
case, no accents), so "Lucía" and "LUCIA" match "lucia".
"""

from __future__ import annotations

from crowdlens.text.lexicon import fold

#: Given names; "Given Family" after one of these is a PERSON even without NER.
GIVEN_NAMES = (
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Paul", "Steven", "Andrew", "Kevin",
    "Brian", "Edward", "Ronald", "Timothy", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary",
    "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
    "Benjamin", "Samuel", "Frank", "Gregory", "Alexander", "Patrick", "Henry", "Peter",
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
    "Sarah", "Karen", "Nancy", "Lisa", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly",
    "Emily", "Donna", "Michelle", "Dorothy", "Carol", "Amanda", "Melissa", "Deborah",
    "Stephanie", "Rebecca", "Sharon", "Cynthia", "Kathleen", "Amy", "Angela", "Helen",
    "Emma", "Olivia", "Sophie", "Sophia", "Oliver", "George", "Harry", "Jack", "Amelia",
    "Charlotte", "Isla", "Ava", "Mia", "Grace", "Lily", "Noah", "Leo", "Oscar", "Alfie",
    "Jean", "Pierre", "Marie", "Michel", "Philippe", "Nicolas", "Camille", "Julien",
    "Isabelle", "Nathalie", "Sylvie", "Claire", "Louis", "Lucas", "Hugo", "Léa", "Chloé",
    "Manon", "Antoine", "François", "Françoise", "Jacques", "Alain", "Bernard", "Christophe",
    "Sébastien", "Olivier", "Frédéric", "Laurent", "Stéphane", "Éric", "Céline", "Sandrine",
    "Valérie", "Catherine", "Christine", "Monique", "Nicole", "Aurélie", "Émilie", "Inès",
    "Mohamed", "Mohammed", "Muhammad", "Ahmed", "Ali", "Omar", "Youssef", "Hassan",
    "Fatima", "Aïcha", "Aisha", "Khadija", "Amina", "Aminata", "Mariam", "Moussa",
    "Mamadou", "Awa", "Ibrahim", "Ousmane", "Abdoulaye", "Seydou", "Adama", "Fatou",
    "Maria", "José", "Jose", "Juan", "Carlos", "Luis", "Miguel", "Javier", "Antonio",
    "Manuel", "Francisco", "Pedro", "Alejandro", "Pablo", "Sergio", "Alberto", "Raúl",
    "Enrique", "Ramón", "Héctor", "Roberto", "Eduardo", "Óscar", "Víctor", "Mario",
    "Carmen", "Ana", "Lucía", "Laura", "Sofía", "Valentina", "Camila", "Isabel", "Rosa",
    "Pilar", "Dolores", "Teresa", "Cristina", "Marta", "Elena", "Paula", "Daniela",
    "Gabriela", "Andrea", "Mariana", "Ximena", "Guadalupe", "Verónica", "Patricia",
    "Diego", "Andrés", "Jorge", "Ricardo", "Fernando", "Gabriel", "Santiago", "Sebastián",
    "Mateo", "Nicolás", "Martín", "Emiliano", "Joaquín", "Tomás", "Agustín",
    "João", "Paulo", "Mateus", "Rafael", "Gustavo", "Bruno", "Felipe", "Thiago", "Lucas",
    "Marcos", "Rodrigo", "Leonardo", "Vinícius", "Matheus", "Guilherme", "Luiz", "Luís",
    "Beatriz", "Juliana", "Fernanda", "Adriana", "Aline", "Bruna", "Larissa", "Letícia",
    "Francisca", "Antônia", "Raimunda", "Sônia", "Conceição", "Joana", "Inês",
    "Hans", "Klaus", "Stefan", "Andreas", "Anna", "Julia", "Katharina", "Jürgen", "Wolfgang",
    "Giuseppe", "Giovanni", "Marco", "Luca", "Francesca", "Giulia", "Chiara", "Alessandro",
    "Erik", "Lars", "Anders", "Johan", "Karl", "Nils", "Sven", "Astrid", "Ingrid", "Karin",
    "Raj", "Rahul", "Amit", "Priya", "Anjali", "Sunita", "Ravi", "Arjun", "Deepak", "Sanjay",
    "Vijay", "Suresh", "Ramesh", "Anil", "Pooja", "Neha", "Kavita", "Lakshmi", "Aarav",
    "Chinedu", "Emeka", "Ngozi", "Oluwaseun", "Adebayo", "Chioma", "Tunde", "Bola", "Yusuf",
    "Wanjiru", "Kamau", "Otieno", "Achieng", "Mwangi", "Njeri", "Wambui", "Kipchoge",
    "Sipho", "Thabo", "Nomvula", "Lerato", "Pieter", "Kwame", "Kofi", "Ama", "Akua", "Yaw",
    "Maricel", "Jocelyn", "Rodel", "Jun", "Nguyen", "Minh", "Siti", "Budi", "Dewi", "Putri",
)  # fmt: skip

#: Surnames; a tagged name ending in one of these is believed without a cue.
SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
    "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Hill", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner",
    "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris",
    "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "Kelly",
    "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray",
    "Hughes", "Price", "Sanders", "Patel", "Shah", "Singh", "Kumar", "Sharma", "Gupta",
    "Das", "Reddy", "Rao", "Iyer", "Khan", "Ahmed", "Hussain", "Rahman", "Chowdhury",
    "Dupont", "Durand", "Dubois", "Lefèvre", "Lefebvre", "Leroy", "Moreau", "Simon",
    "Laurent", "Michel", "Garcia", "Bernard", "Petit", "Richard", "Robert", "Bertrand",
    "Roux", "Vincent", "Fournier", "Girard", "Bonnet", "Mercier", "Blanc", "Guerin",
    "Boyer", "Garnier", "Chevalier", "Francois", "Legrand", "Gauthier", "Perrin", "Morel",
    "Diallo", "Traoré", "Koné", "Coulibaly", "Camara", "Keita", "Sow", "Ba", "Ndiaye",
    "Diop", "Fall", "Sy", "Touré", "Cissé", "Sylla", "Kouassi", "Konaté", "Ouédraogo",
    "García", "Rodríguez", "González", "Fernández", "López", "Lopez", "Martínez",
    "Martinez", "Sánchez", "Sanchez", "Pérez", "Perez", "Gómez", "Gomez", "Ruiz",
    "Hernández", "Hernandez", "Díaz", "Diaz", "Moreno", "Álvarez", "Alvarez", "Muñoz",
    "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos",
    "Gil", "Ramírez", "Ramirez", "Serrano", "Blanco", "Molina", "Morales", "Suárez",
    "Ortega", "Delgado", "Castro", "Ortiz", "Rubio", "Marín", "Sanz", "Núñez", "Iglesias",
    "Medina", "Garrido", "Cortés", "Castillo", "Santos", "Lozano", "Guerrero", "Cano",
    "Prieto", "Méndez", "Cruz", "Flores", "Herrera", "Peña", "León", "Márquez", "Cabrera",
    "Gallego", "Calvo", "Vidal", "Campos", "Vega", "Fuentes", "Carrasco", "Diez", "Reyes",
    "Aguilar", "Jiménez", "Jimenez", "Rojas", "Vargas", "Mendoza", "Silva", "Castañeda",
    "Silva", "Santos", "Oliveira", "Souza", "Sousa", "Rodrigues", "Ferreira", "Alves",
    "Pereira", "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida",
    "Lopes", "Soares", "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento",
    "Andrade", "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso",
    "Ramos", "Gonçalves", "Santana", "Teixeira", "Araújo", "Pinto", "Correia", "Monteiro",
    "Müller", "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
    "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder",
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
    "Johansson", "Andersson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson",
    "Okafor", "Okonkwo", "Adeyemi", "Balogun", "Eze", "Nwosu", "Okeke", "Bello", "Abubakar",
    "Ibrahim", "Mohammed", "Mensah", "Owusu", "Boateng", "Asante", "Osei", "Kamau",
    "Mwangi", "Otieno", "Ochieng", "Wanjiku", "Kariuki", "Njoroge", "Omondi", "Kiprop",
    "Dlamini", "Nkosi", "Ndlovu", "Khumalo", "Mokoena", "Mahlangu", "Naidoo", "Botha",
    "Santos", "Reyes", "Bautista", "Ocampo", "Garcia", "Mendoza", "Aquino", "Villanueva",
    "Nguyen", "Tran", "Le", "Pham", "Hoang", "Huynh", "Vo", "Wang", "Li", "Zhang", "Liu",
    "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Tanaka", "Suzuki", "Sato", "Kim", "Park",
)  # fmt: skip

_GIVEN = frozenset(fold(n) for n in GIVEN_NAMES)
_SURNAMES = frozenset(fold(n) for n in SURNAMES)


def is_given_name(word: str) -> bool:
    """Whether ``word`` is a common given name (any case, accents optional).

    >>> is_given_name("LUCIA"), is_given_name("Kaiser")
    (True, False)
    """
    return fold(word.strip(".,:;")) in _GIVEN


def is_surname(word: str) -> bool:
    """Whether ``word`` is a common surname (any case, accents optional)."""
    w = fold(word.strip(".,:;"))
    return len(w) >= 3 and w in _SURNAMES  # "Le", "Li", "Ba" are words too
