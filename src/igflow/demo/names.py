"""Fixed lists of names from which synthetic patients are made (combined at random: no real person)."""

FEMALE = (
    "Ada Alma Amara Anika Aria Beatriz Bianca Carmen Celia Dalia Daria Edith Elena Elif Emilia Esme Farah Freya "
    "Gemma Greta Hana Helga Ines Iris Isla Jana Joy Kaia Lena Lidia Lina Lucia Mabel Maren Maya Mila Nadia Nell "
    "Noor Olga Opal Paula Petra Priya Rhea Rosa Ruth Sana Selma Sofia Tala Thea Uma Vera Wren Yara Zara Zoe"
).split()
MALE = (
    "Aarav Abel Adam Alvaro Amir Anton Arlo Bruno Caleb Cyrus Dario Dev Elias Emil Ezra Felix Finn Gabor Hamid "
    "Hugo Ian Idris Ivan Jonas Jude Kai Kenji Leo Levi Luca Malik Marco Mateo Milo Nico Niko Omar Oren Otto Pablo "
    "Rafael Ravi Remy Rohan Sami Silas Tariq Teo Tomas Umar Vikram Wim Yusuf Zane"
).split()
FAMILY = (
    "Abara Adeyemi Albescu Alvarado Amsel Andrade Arkwright Baines Balogun Barros Bellweather Benning Birchall "
    "Blackwood Brannigan Calloway Carrow Castellano Chandrasekar Chowdry Cordero Cresswell Dalgliesh Delacroix "
    "Dimitrov Drummond Eastwick Ebbesen Ellery Esposito Fairbanks Falkner Farrow Fenwick Galloway Garrick Gastaldi "
    "Greaves Hadley Halvorsen Harrow Hawthorne Henningsen Hollis Ibsenholt Ingleby Iwasaki Jablonski Jardine "
    "Kavanagh Kestrel Kowalczyk Lachance Langley Larkspur Lindqvist Lockhart Lonsdale Maddox Marchetti Merriweather "
    "Montague Nakamura Northcott Novak Oakhurst Okafor Oyelaran Pemberton Petrakis Quennell Radcliffe Ravensworth "
    "Rosales Rutherford Saltmarsh Santangelo Sorensen Stanhope Tamura Thackeray Thornbury Underhill Valdivia "
    "Vasquez Wakefield Westbrook Whitlock Winterbourne Yamashita Yardley Zielinski Zubiri"
).split()
STREETS = "Alder Birch Cedar Dogwood Elm Fir Hawthorn Juniper Laurel Magnolia Maple Oak Pine Redwood Spruce Willow".split()
CITIES = ("Harbor City", "Oak Ridge", "Mesa Verde", "Lakeside", "Fairview", "Brookdale")
