"""Writes random templates for semver and semverCompare, for differential runs of Kapsel
against Go; see main.go. Usage: python3 gen_fuzz_semver.py SEED > cases.txt"""
import random, sys
random.seed(int(sys.argv[1]))
def ver():
    p=[str(random.choice([0,1,2,10,99999999999999999999])) for _ in range(random.randint(1,3))]
    v=".".join(p)
    if random.random()<0.3: v+= "-" + random.choice(["alpha","beta.1","rc.01","1","alpha.beta","0"])
    if random.random()<0.2: v+= "+" + random.choice(["b1","meta.x"])
    if random.random()<0.1: v="v"+v
    return v
def con():
    ops=["","=","!=",">","<",">=","<=","=>","=<","~","~>","^"]
    parts=[]
    for _ in range(random.randint(1,3)):
        c=random.choice(ops)+random.choice([""," "])+random.choice([ver(), "1.x","1.2.x","*","x","2.X","1.*"])
        parts.append(c)
    s=random.choice([", ",",", " || "]).join(parts)
    if random.random()<0.15: s=ver()+" - "+ver()
    return s
lines=[]
for _ in range(3000):
    lines.append('{{ semverCompare "%s" "%s" }}' % (con(), ver()))
for _ in range(500):
    v=ver()
    lines.append('{{ semver "%s" }}' % v)
    lines.append('{{ (semver "%s").Prerelease }}' % v)
print("\n".join(lines))
