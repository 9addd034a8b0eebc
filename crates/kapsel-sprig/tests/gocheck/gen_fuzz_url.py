"""Writes random templates for urlParse and urlJoin, for differential runs of Kapsel
against Go; see main.go. Usage: python3 gen_fuzz_url.py SEED > cases.txt"""
import random, sys
random.seed(int(sys.argv[1]))
pool = list("htpsfile:/@[]:%2F0a1?#&=x .-_~!$'()*+,;é[]::v6") + ["%25", "%41", "%zz", "::1", "://", "//", "@", "http://", "https://", "[::1]", "[fe80::1%25en0]", ":8080", "?q=1", "#f", "%2f", "user:pass@", "mailto:"]
def r(n): return "".join(random.choice(pool) for _ in range(n))
def q(s): return '"' + s.replace('\\','\\\\').replace('"','\\"') + '"'
lines=[]
for _ in range(1500):
    lines.append("{{ urlParse %s }}" % q(r(random.randint(0,8))))
fields=["scheme","host","path","query","opaque","fragment","userinfo"]
vals=["", "http", "h", "h:1", "[::1]:80", "/a b", "a:b", "x=1&y", "f g#", "u:p", "u", "u%40", ":p", "é", "//x", "a?b", "%2F", "mailto", "x@y"]
for _ in range(1500):
    parts=[]
    for f in random.sample(fields, random.randint(0, 5)):
        parts.append('"%s" %s' % (f, q(random.choice(vals) if random.random()<0.6 else r(random.randint(0,5)))))
    lines.append("{{ urlJoin (dict %s) }}" % " ".join(parts))
print("\n".join(lines))
