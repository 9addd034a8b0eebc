"""Writes random templates for dateInZone over every zone in /usr/share/zoneinfo, for differential runs of Kapsel
against Go; see main.go. Usage: python3 gen_fuzz_zones.py SEED > cases.txt"""
import random, sys, os
random.seed(int(sys.argv[1]))
zones=[]
for root, dirs, files in os.walk("/usr/share/zoneinfo"):
    for f in files:
        p=os.path.join(root,f)[len("/usr/share/zoneinfo/"):]
        if p.startswith(("posix/","right/")) or "." in f or f in ("zone.tab","zone1970.tab","iso3166.tab","leapseconds","tzdata.zi","leap-seconds.list","SECURITY","zonenow.tab"): continue
        zones.append(p)
zones.sort()
lines=[]
for _ in range(3000):
    z=random.choice(zones)
    t=random.choice([random.randint(-2500000000, 4500000000), random.randint(1600000000, 1800000000), random.randint(4000000000, 7000000000)])
    lines.append('{{ dateInZone "2006-01-02 15:04:05 MST -07:00:00" %d "%s" }}' % (t, z))
print("\n".join(lines))
