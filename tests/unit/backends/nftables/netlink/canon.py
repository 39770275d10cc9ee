#!/usr/bin/env python3
# nft --debug=mnl output -> one canonical line per NEW*/DEL* message (see netlink_batch_test.cpp).
import re, sys
msgs = []; cur = None
for raw in open(sys.argv[1], errors='replace'):
    l = re.sub(r'\x1b\[[0-9;]*m', '', raw.rstrip('\n'))
    if re.match(r'\|\s+(\d+)\s+\|\s+\| message length', l): cur = {'tok': []}; msgs.append(cur); continue
    m = re.match(r'\| (\d{5}) \| (....) \|\s+\|  type \| flags', l)
    if m and cur is not None: cur['type'] = int(m.group(1)); continue
    m = re.match(r'\|(\d{5})\|(..)\|(\d{5})\|', l)
    if m and cur is not None: cur['tok'].append(('h', int(m.group(1)), m.group(2), int(m.group(3)))); continue
    m = re.match(r'\| ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})  \|\s+\|      data', l)
    if m and cur is not None: cur['tok'].append(('d', ''.join(m.groups())))
def parse(toks, i, budget, nodes):
    used = 0
    while used < budget and i < len(toks):
        t = toks[i]
        if t[0] != 'h': i += 1; used += 4; continue
        _, ln, fl, ty = t; i += 1
        if 'N' in fl:
            kids = []; i = parse(toks, i, ((ln + 3) // 4) * 4 - 4, kids); nodes.append((ty, kids))
        else:
            n = ((ln - 4) + 3) // 4
            nodes.append((ty, ''.join(x[1] for x in toks[i:i + n])[: (ln - 4) * 2])); i += n
        used += ((ln + 3) // 4) * 4
    return i
def text(label, v):
    if not isinstance(v, list): return f'{label}={v}'
    islist = len(v) > 1 and all(isinstance(c, list) for _, c in v)
    kids = [text('L' if islist else str(t), c) for t, c in v]
    if not islist: kids.sort()
    return label + '{' + ' '.join(kids) + '}'
names = ['NEWTABLE','GETTABLE','DELTABLE','NEWCHAIN','GETCHAIN','DELCHAIN','NEWRULE','GETRULE','DELRULE','NEWSET','GETSET','DELSET','NEWSETELEM','GETSETELEM','DELSETELEM']
for m in msgs:
    t = m.get('type', 0)
    if (t >> 8) != 10 or (t & 0xff) >= len(names) or names[t & 0xff].startswith('GET'): continue
    nodes = []; parse(m['tok'], 0, 1 << 30, nodes)
    print(text(names[t & 0xff], nodes))
