"""Writes random sprig templates over structured values (lists, dicts, numbers)
for differential runs of Kapsel against Go; see main.go.
Usage: python3 gen_fuzz_values.py SEED > cases.txt"""
import random, sys
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
DATA = [".bytes", ".strs", ".m", ".ss", ".nilmap", ".t", ".n64", ".f"]
def leaf():
    k = random.randint(0, 9)
    if k == 0: return "nil"
    if k == 1: return random.choice(["true", "false"])
    if k == 2: return str(random.randint(-5, 20))
    if k == 3: return random.choice(["2.5", "-0.5", "0.0", "1e3", "3.999", "-7.5"])
    if k == 4: return random.choice(DATA)
    return '"%s"' % random.choice(["", "a", "b", "10", "-3", "2.5", "x y", "0777", "é", "1e2", "true"])
def val(d=0):
    k = random.randint(0, 9)
    if d < 2 and k == 0:
        return "(list %s)" % " ".join(val(d + 1) for _ in range(random.randint(0, 4)))
    if d < 2 and k == 1:
        parts = []
        for _ in range(random.randint(0, 3)):
            parts.append('"%s"' % random.choice("abcd"))
            parts.append(val(d + 1))
        return "(dict %s)" % " ".join(parts)
    return leaf()
def lst():
    if random.random() < 0.2: return random.choice([".strs", ".bytes", "nil", "1", '"s"', ".m"])
    return "(list %s)" % " ".join(val(1) for _ in range(random.randint(0, 5)))
def dct():
    # no .ss: a map[string]string for a map[string]interface{} parameter is the
    # engine's type error; no .m: set would make it contain itself.
    if random.random() < 0.15: return ".nilmap"
    parts = []
    for _ in range(random.randint(0, 4)):
        parts.append('"%s"' % random.choice("abcd"))
        parts.append(val(1))
    return "(dict %s)" % " ".join(parts)
one_any = ["toString", "typeOf", "kindOf", "empty", "int64", "int", "float64", "toDecimal", "add1",
           "ceil", "floor", "toJson", "toPrettyJson", "deepCopy", "toStrings", "sortAlpha", "first",
           "last", "rest", "initial", "reverse", "uniq", "compact", "concat"]
lines = []
for _ in range(3000):
    k = random.randint(0, 14)
    if k < 5:
        f = random.choice(one_any)
        arg = lst() if f in ("first", "last", "rest", "initial", "reverse", "uniq", "compact", "concat", "sortAlpha", "toStrings") and random.random() < 0.8 else val()
        lines.append("{{ %s %s }}" % (f, arg))
    elif k == 5:
        f = random.choice(["add", "mul", "max", "min", "biggest", "coalesce", "cat", "quote", "squote", "list", "concat"])
        n = random.randint(1, 4)
        args = [lst() if f == "concat" else val() for _ in range(n)]
        lines.append("{{ %s %s }}" % (f, " ".join(args)))
    elif k == 6:
        f = random.choice(["sub", "div", "mod", "deepEqual", "default", "has", "without", "append", "prepend"])
        a, b = val(), val()
        if f in ("without", "append", "prepend"): a = lst()
        if f == "has": b = lst()
        lines.append("{{ %s %s %s }}" % (f, a, b))
    elif k == 7:
        lines.append("{{ slice %s %s }}" % (lst(), " ".join(val() for _ in range(random.randint(0, 2)))))
    elif k == 8:
        lines.append("{{ round %s %d }}" % (val(), random.randint(-2, 3)))
    elif k == 9:
        f = random.choice(["merge", "mergeOverwrite"])
        lines.append("{{ %s %s }}" % (f, " ".join(dct() for _ in range(random.randint(1, 3)))))
    elif k == 10:
        f = random.choice(["pick", "omit"])
        lines.append('{{ %s %s %s }}' % (f, dct(), " ".join('"%s"' % random.choice("abcde") for _ in range(random.randint(0, 3)))))
    elif k == 11:
        f = random.choice(["hasKey", "unset"])
        lines.append('{{ %s %s "%s" }}' % (f, dct(), random.choice("abcd")))
        lines.append('{{ set %s "%s" %s }}' % (dct(), random.choice("abcd"), val()))
    elif k == 12:
        lines.append('{{ pluck "%s" %s }}' % (random.choice("abc"), " ".join(dct() for _ in range(random.randint(0, 3)))))
        lines.append('{{ sortAlpha (keys %s) }}' % " ".join(dct() for _ in range(random.randint(0, 3))))
        lines.append('{{ sortAlpha (values %s) }}' % dct())
    elif k == 13:
        lines.append("{{ ternary %s %s %s }}" % (val(), val(), random.choice(["true", "false"])))
        lines.append("{{ join %s %s }}" % ('"%s"' % random.choice([",", "", " - "]), val() if random.random() < 0.3 else lst()))
    else:
        lines.append("{{ untilStep %d %d %d }}" % (random.randint(-5, 10), random.randint(-5, 10), random.randint(-3, 3)))
        lines.append("{{ dict %s }}" % " ".join(val() for _ in range(random.randint(0, 5))))
print("\n".join(lines))
