"""Writes random templates for date and toDate layouts, for differential runs of Kapsel
against Go; see main.go. Usage: python3 gen_fuzz_dates.py SEED > cases.txt"""
import random, sys
random.seed(int(sys.argv[1]))
elems = ["2006","06","01","1","Jan","January","02","2","_2","__2","002","Mon","Monday","15","03","3","04","4","05","5","PM","pm","MST","Z07:00","Z0700","Z07","-07:00","-0700","-07",".000",".999",",000",".000000000",".9","T"," ","-",":","/","x"]
def lay(): return "".join(random.choice(elems) for _ in range(random.randint(1,6)))
lines=[]
for _ in range(1500):
    t = random.choice([".t", str(random.randint(-3000000000, 5000000000)), "(toDate \"2006-01-02T15:04:05.999999999Z07:00\" \"2024-02-29T23:59:59.123456789+05:30\")"])
    lines.append('{{ date "%s" %s }}' % (lay(), t))
for _ in range(1500):
    l = random.choice(["2006-01-02","2006-01-02T15:04:05Z07:00","Jan _2 2006","02/01/06 15:04","2006-01-02 15:04:05.000 MST","Mon, 02 Jan 2006 15:04:05 -0700","3:04PM","2006-002"])
    v = random.choice(["2024-02-29","2023-02-29","2024-13-01","2021-03-04T05:06:07+02:00","2021-03-04T05:06:07Z","Feb  3 2021","Feb 31 2021","01/02/21 10:30","2021-01-02 10:30:00.123 UTC","2021-01-02 10:30:00.123 PST","Tue, 02 Jan 2024 15:04:05 +0100","3:04AM","12:00PM","2024-060","2024-366","2023-366","", "x"])
    lines.append('{{ toDate "%s" "%s" }}' % (l, v))
    lines.append('{{ toDate "%s" "%s" | date "2006-01-02T15:04:05.999999999Z07:00 MST" }}' % (l, v))
print("\n".join(lines))
