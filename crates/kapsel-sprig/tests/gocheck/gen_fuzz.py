"""Writes random sprig test templates (one per line) for differential runs of
Kapsel against Go; see main.go. Usage: python3 gen_fuzz.py SEED > cases.txt"""
import random, sys
random.seed(int(sys.argv[1]) if len(sys.argv)>1 else 1)
alpha = list("abcXYZ _-.,/:;!?@#$%^&*()[]{}|<>=+~`'09 \t\n") + list("éÄßǅǆİıſKΣσς€漢😀\u00a0\u2028\u0300") 
def rstr(n=None, pool=alpha):
    n = random.randint(0, 12) if n is None else n
    return "".join(random.choice(pool) for _ in range(n))
def q(s):
    out = '"'
    for c in s:
        if c == '"': out += '\\"'
        elif c == '\\': out += '\\\\'
        elif c == '\n': out += '\\n'
        elif c == '\t': out += '\\t'
        elif ord(c) < 32: out += '\\x%02x' % ord(c)
        else: out += c
    return out + '"'
def rint(a=-5, b=20): return str(random.randint(a, b))
lines = []
str1 = ["trim","upper","lower","title","untitle","nospace","initials","swapcase","snakecase","camelcase","kebabcase","b64enc","b64dec","b32enc","b32dec","sha1sum","adler32sum","base","dir","clean","ext","isAbs","toString","atoi","int64","float64","toDecimal","int","quote","squote","urlParse"]
for _ in range(400):
    f = random.choice(str1)
    pool = alpha
    if f in ("b64dec",): pool = list("aGVsbG8=QUJDRA+/\n\r$")
    if f in ("b32dec",): pool = list("NBSWY3DPEEMZXW6=\n!a")
    if f in ("atoi","int64","float64","toDecimal","int"): pool = list("0123456789+-._eEpxXabinfINFnaN ")
    if f in ("base","dir","clean","ext","isAbs"): pool = list("ab./..//")
    if f == "urlParse": pool = list("htps:/@[]:%2F0a?#&=x ")
    lines.append("{{ %s %s }}" % (f, q(rstr(pool=pool))))
for _ in range(300):
    f = random.choice(["abbrev","trunc","wrap","indent","nindent","repeat","randAlpha"][:6])
    n = rint(-2, 14) if f != "repeat" else rint(0, 3)
    lines.append("{{ %s %s %s }}" % (f, n, q(rstr())))
for _ in range(200):
    lines.append("{{ abbrevboth %s %s %s }}" % (rint(-3, 12), rint(-3, 14), q(rstr(random.randint(0, 20)))))
    lines.append("{{ substr %s %s %s }}" % (rint(-2, 8), rint(-2, 10), q(rstr(pool=list("abcdefgh")))))
    lines.append("{{ wrapWith %s %s %s }}" % (rint(-1, 6), q(rstr(2)), q(rstr(random.randint(0, 20), pool=list("ab  cd é")))))
    lines.append("{{ splitn %s %s %s }}" % (q(rstr(1, pool=list(",a"))), rint(-1, 4), q(rstr(pool=list("a,b,")))))
    lines.append("{{ replace %s %s %s }}" % (q(rstr(random.randint(0,2), pool=list("ab"))), q(rstr(2)), q(rstr(pool=list("abé")))))
    lines.append("{{ trimAll %s %s }}" % (q(rstr(2)), q(rstr())))
rxpool = list("ab.*+?()[]{}|^$\\dwsbB-,0123:P<n>é")
for _ in range(500):
    f = random.choice(["regexFind","regexFindAll","regexReplaceAll","regexReplaceAllLiteral","regexSplit","regexMatch"])
    pat = q(rstr(random.randint(0, 8), pool=rxpool))
    s = q(rstr(random.randint(0, 8), pool=list("aab b1é-,")))
    if f in ("regexFindAll","regexSplit"):
        lines.append("{{ %s %s %s %s }}" % (f, pat, s, rint(-1, 3)))
    elif f.startswith("regexReplace"):
        lines.append("{{ %s %s %s %s }}" % (f, pat, s, q(rstr(random.randint(0,5), pool=list("$1{}xn0")))))
    else:
        lines.append("{{ %s %s %s }}" % (f, pat, s))
svpool = list("0123.xX*^~><=!-| ,v+ab")
for _ in range(400):
    c = rstr(random.randint(0, 10), pool=svpool)
    v = random.choice(["1.2.3","0.0.1","1.2","2","1.2.3-beta","1.2.3-beta.2","3.0.0-rc.1+b","v1.0.0","1.10.0"])
    lines.append("{{ semverCompare %s %s }}" % (q(c), q(v)))
for _ in range(200):
    d = rstr(random.randint(0, 6), pool=list("0123456789.hmsuµn-+"))
    lines.append("{{ dateModify %s .t }}" % q(d))
for _ in range(200):
    a = q(rstr(random.randint(0, 10), pool=list("ABCabc123-_ é")))
    lines.append("{{ %s %s }}" % (random.choice(["snakecase","kebabcase","camelcase","swapcase","title"]), a))
print("\n".join(lines))
