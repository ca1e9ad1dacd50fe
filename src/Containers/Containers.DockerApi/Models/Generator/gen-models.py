# Writes ../*.cs, the Docker API's DTOs (listed in models-spec.py), with XML docs from the swagger's descriptions.
# Run: python3 gen-models.py (needs python3-yaml). The output is checked in; edit the spec, not the .cs files.
import yaml, re, textwrap, sys, os
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '../../../../..'))
OUT = os.path.normpath(os.path.join(HERE, '..'))
sw = yaml.safe_load(open(os.path.join(REPO, 'tests/Containers.DockerApi.Tests/Specs/docker-engine-api.swagger.yaml')))
D = sw['definitions']

def resolve(path):
    """path: 'Def' or 'Def.Prop' or 'Def.Prop[]' (items) into the swagger; returns schema or None."""
    parts = path.split('.')
    s = D.get(parts[0])
    if parts[0].startswith('#'):  # an operation's 200/201 answer: #OperationId
        s = next((r.get('schema') for ops in sw['paths'].values() for o in ops.values() if isinstance(o, dict) and o.get('operationId') == parts[0][1:]
                  for c, r in o.get('responses', {}).items() if c in (200, 201, '200', '201')), None)
    for p in parts[1:]:
        if s is None: return None
        items = p.endswith('[]'); p = p.rstrip('[]')
        s = props(s).get(p)
        if s and '$ref' in s: s = D[s['$ref'].split('/')[-1]]
        if s and items: s = s.get('items'); 
        if s and '$ref' in s: s = D[s['$ref'].split('/')[-1]]
    return s

def props(s):
    out = {}
    for a in s.get('allOf', []):
        if '$ref' in a: out.update(props(D[a['$ref'].split('/')[-1]]))
        else: out.update(a.get('properties', {}))
    out.update(s.get('properties', {}))
    return out

def esc(t): return t.replace('&','&amp;').replace('<','&lt;').replace('>','&gt;')
def first(desc):
    if not desc: return None
    d = ' '.join(desc.split())
    d = re.sub(r'<[^>]+>', '', d)
    d = re.sub(r'\[([^\]]+)\]\([^)]+\)', r'\1', d)
    m = re.match(r'(.+?[.!?])(\s|$)', d)
    d = m.group(1) if m else d + '.'
    return esc(d.replace('`', '"'))

def doc(lines, indent):
    w = textwrap.wrap(lines, 112 - indent)
    pad = ' ' * indent
    if len(w) == 1: return f'{pad}/// <summary>{w[0]}</summary>\n'
    return f'{pad}/// <summary>\n' + ''.join(f'{pad}/// {l}\n' for l in w) + f'{pad}/// </summary>\n'

def gen(classes, header):
    out = [header]
    for cls, src, cdoc, fields in classes:
        s = resolve(src) if src else None
        d = cdoc or (first(s.get('description')) if s else None) or FALLBACK.get(cls) or cls
        out.append(doc(d + (f' (the swagger\'s <c>{src}</c>)' if src and src != cls else ''), 0))
        out.append(f'public sealed class {cls}\n{{\n')
        ps = props(s) if s else {}
        for f in fields:
            name, typ, *opt = f
            opt = opt[0] if opt else {}
            json = opt.get('json', name)
            p = ps.get(json) or ps.get(name) or {}
            if '$ref' in p and 'description' not in p: p = D[p['$ref'].split('/')[-1]]
            pd = opt.get('doc') or first(p.get('description')) or FALLBACK.get(name) or FALLBACK.get(cls + '.' + name) or name
            out.append(doc(pd, 4))
            if json != name: out.append(f'    [JsonPropertyName("{json}")]\n')
            if opt.get('omit'): out.append(f'    [JsonIgnore(Condition = JsonIgnoreCondition.{opt["omit"]})]\n')
            init = opt.get('init')
            if init is None:
                init = {'string': '""', 'List<string>': '[]'}.get(typ, None)
                if init is None and not typ.endswith('?') and typ[0].isupper() and not typ.startswith(('Dictionary','List')): init = 'new()'
                if init is None and typ.startswith(('Dictionary','List')) and not typ.endswith('?'): init = '[]'
            out.append(f'    public {typ} {name} {{ get; init; }}' + (f' = {init};' if init else '') + '\n\n')
        out[-1] = out[-1][:-1]
        out.append('}\n\n')
    out[-1] = out[-1][:-1]
    return ''.join(out)

exec(open(os.path.join(HERE, 'models-spec.py')).read())
