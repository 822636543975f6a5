#!/usr/bin/python3
"""What the code accepts is what the documentation says, both ways.

- mfactl's verbs and options (the verbs[] table and every getopt_long()
  table a verb reaches, in mfactl/*.c) against mfactl(8) (SYNOPSIS and the
  lists of DESCRIPTION), "mfactl help", "mfactl VERB --help" and the bash
  completion: names, short forms, and which take an argument.
- pam_mfa's module arguments (the argv comparisons in pam_mfa/pam_mfa.c)
  against pam_mfa(8) (SYNOPSIS and OPTIONS).
- The configuration keys (the key_spec tables of core/config.c) against
  the Settings of pam_mfa.conf(5), with the ranges of numeric keys.

Usage: test_documented.py SOURCE_ROOT MFACTL [COMPLETION]
Exits 1 listing every mismatch, 0 when there is none.
"""
import os
import re
import subprocess
import sys

problems = []
checked = {}        # what was compared, for the summary line


def problem(msg):
    problems.append(msg)


# ---------------------------------------------------------------- C source

def strip_comments(text):
    """Blanks out comments, keeping strings, char literals and offsets."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def blank_strings(text):
    """The same text with the insides of strings and char literals blanked,
    so that braces in them do not count."""
    return re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'',
                  lambda m: m.group(0)[0] + ' ' * (len(m.group(0)) - 2) + m.group(0)[-1],
                  text)


def matching_brace(structure, open_at):
    depth = 0
    for i in range(open_at, len(structure)):
        if structure[i] == '{':
            depth += 1
        elif structure[i] == '}':
            depth -= 1
            if depth == 0:
                return i
    raise ValueError('unbalanced braces')


def functions(text):
    """{name: body} for each function defined at file scope."""
    structure = blank_strings(text)
    found = {}
    i = 0
    while True:
        i = structure.find('{', i)
        if i < 0:
            return found
        # A function body opens at file scope right after ")".
        before = structure[:i].rstrip()
        end = matching_brace(structure, i)
        if before.endswith(')') and not re.search(r'=\s*$', before):
            depth, j = 0, len(before) - 1
            while j >= 0:
                if before[j] == ')':
                    depth += 1
                elif before[j] == '(':
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            m = re.search(r'(\w+)\s*$', before[:j])
            if m and m.group(1) not in ('if', 'while', 'for', 'switch'):
                found[m.group(1)] = text[i:end + 1]
        i = end + 1


def c_initializer(text, decl_regex):
    """{name: initializer text} for each array declaration that matches."""
    out = {}
    structure = blank_strings(text)
    for m in re.finditer(decl_regex, structure):
        open_at = structure.index('{', m.end() - 1)
        out[m.group('name')] = text[open_at:matching_brace(structure, open_at) + 1]
    return out


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


OPTION_TABLE = r'struct\s+option\s+(?P<name>\w+)\s*\[\s*\]\s*=\s*\{'


def mfactl_from_code(src):
    """verbs: {verb: {long: (short or None, takes_arg)}}, plus the global
    options under the key None."""
    files = sorted(os.path.join(src, 'mfactl', f) for f in os.listdir(os.path.join(src, 'mfactl'))
                   if f.endswith('.c'))
    funcs, tables = {}, {}
    for path in files:
        text = strip_comments(read(path))
        funcs.update(functions(text))
        tables.update(c_initializer(text, OPTION_TABLE))

    def options_of(name, seen):
        """The options of every getopt_long() call that function name, or a
        function it mentions, makes."""
        if name in seen or name not in funcs:
            return {}
        seen.add(name)
        body = funcs[name]
        # Each function's own table first: they are all called "opts".
        local = c_initializer(body, OPTION_TABLE)
        opts = {}
        for m in re.finditer(r'getopt_long\s*\(\s*\w+\s*,\s*\w+\s*,\s*"([^"]*)"\s*,\s*(\w+)', body):
            optstring, table = m.group(1), m.group(2)
            entries_text = local.get(table, tables.get(table))
            if entries_text is None:
                problem(f'mfactl/*.c: {name}(): getopt_long() table {table} not found')
                continue
            shorts = set(re.sub(r'[+:-]', '', optstring))
            entries = re.findall(r'\{\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*[^,]+,\s*(\'.\'|\w+)\s*\}',
                                 entries_text)
            if not entries:
                problem(f'mfactl/*.c: {name}(): no options parsed from table {table}')
            for long, has_arg, val in entries:
                short = val[1] if val.startswith("'") and val[1] in shorts else None
                opts[long] = (short, has_arg != 'no_argument')
        for callee in set(re.findall(r'\b(\w+)\b', body)):
            if callee != name:
                opts.update(options_of(callee, seen))
        return opts

    main_text = strip_comments(read(os.path.join(src, 'mfactl', 'mfactl.c')))
    tab = c_initializer(main_text, r'\b(?P<name>verbs)\s*\[\s*\]\s*=\s*\{')
    if 'verbs' not in tab:
        problem('mfactl/mfactl.c: the verbs[] table was not found')
        return {}
    verbs = {}
    for verb, fn in re.findall(r'\{\s*"([^"]+)"\s*,\s*(\w+)\s*\}', tab['verbs']):
        verbs[verb] = options_of(fn, set())
    # Verbs main() handles itself, such as "help".
    for verb in re.findall(r'strcmp\s*\(\s*verb\s*,\s*"([^"]+)"\s*\)', funcs.get('main', '')):
        verbs.setdefault(verb, {})
    verbs[None] = options_of('main', set())
    checked['mfactl verbs'] = len(verbs) - 1
    checked['mfactl options'] = sum(len(o) for o in verbs.values())
    if len(verbs) < 3 or not verbs[None]:
        problem(f'mfactl/*.c: found too little to check (verbs {sorted(v for v in verbs if v)}, '
                f'global options {sorted(verbs.get(None, {}))})')
    return verbs


# ------------------------------------------------------------------- mdoc

def section(lines, name, level='Sh'):
    """The lines of section (or subsection) name, without its heading."""
    out, inside = [], False
    for line in lines:
        if re.match(r'\.S[hs]\s', line):
            if inside and (line.startswith('.Sh') or level == 'Ss'):
                break
            if line.split(None, 1)[0] == '.' + level and line.split(None, 1)[1].strip() == name:
                inside = True
                continue
        if inside:
            out.append(line)
    if not inside:
        problem(f'no section "{name}" found')
    return out


def mdoc_lines(path):
    return [ln for ln in read(path).split('\n') if not ln.startswith('.\\"')]


class Item:
    """One .It of a .Bl list: its head (with Xo ... Xc joined), its body
    lines and the lists nested in it."""
    def __init__(self, head):
        self.head = head
        self.body = []
        self.lists = []


def parse_lists(lines):
    """The top-level .Bl lists of lines, each a list of Items."""
    pos = 0

    def item_head():
        nonlocal pos
        head = lines[pos][3:].strip()
        pos += 1
        if head == 'Xo':
            parts = []
            while pos < len(lines) and not lines[pos].startswith('.Xc'):
                parts.append(lines[pos].lstrip('.'))
                pos += 1
            pos += 1
            head = ' '.join(parts)
        return head

    def parse_list():
        nonlocal pos
        items = []
        while pos < len(lines):
            line = lines[pos]
            if line.startswith('.El'):
                pos += 1
                return items
            if line.startswith('.It'):
                items.append(Item(item_head()))
            elif line.startswith('.Bl'):
                pos += 1
                sub = parse_list()
                if items:
                    items[-1].lists.append(sub)
            else:
                if items:
                    items[-1].body.append(line)
                pos += 1
        return items

    top = []
    while pos < len(lines):
        if lines[pos].startswith('.Bl'):
            pos += 1
            top.append(parse_list())
        else:
            pos += 1
    return top


def walk_items(items):
    for item in items:
        yield item
        for sub in item.lists:
            yield from walk_items(sub)


def head_macros(head):
    """The first macro of an .It head."""
    toks = head.split()
    return toks[0] if toks else ''


def option_tag(head):
    """(long, short, takes_arg) from ".It Fl m , Fl -method Cm totp", or None."""
    m = re.match(r'Fl\s+(?:(\w)\s*,\s*Fl\s+)?-([\w-]+)(.*)$', head)
    if not m:
        m2 = re.match(r'Fl\s+(\w)\s*$', head)
        return (None, m2.group(1), False) if m2 else None
    rest = m.group(3).strip()
    return (m.group(2), m.group(1), bool(re.match(r'(Ar|Cm)\s', rest + ' ')))


# ----------------------------------------------------------------- mfactl

def fmt_opt(o):
    return '--' + o


def check_mfactl(src, mfactl, completion):
    code = mfactl_from_code(src)
    verbs = sorted(v for v in code if v)
    man = os.path.join(src, 'man', 'mfactl.8')
    lines = mdoc_lines(man)

    # SYNOPSIS: one block per .Nm, the verb its first .Cm.
    syn_verbs, syn_global = {}, set()
    block = None
    for line in section(lines, 'SYNOPSIS'):
        if line.startswith('.Nm'):
            block = {'verb': None, 'opts': set()}
            continue
        if block is None:
            continue
        m = re.match(r'\.Cm\s+([a-z][\w-]*)', line)
        if m and block['verb'] is None:
            block['verb'] = m.group(1)
            syn_verbs.setdefault(block['verb'], set())
        found = set(re.findall(r'Fl\s+-([\w-]+)', line))
        if block['verb'] is None or block['verb'] == 'help':
            syn_global |= found           # "mfactl help | --help | --version"
        else:
            syn_verbs[block['verb']] |= found
    compare('mfactl(8) SYNOPSIS verbs', set(syn_verbs), 'mfactl/*.c verbs', set(verbs))
    compare('mfactl(8) SYNOPSIS global options', syn_global,
            'mfactl.c main() options', set(code[None]), fmt_opt)
    for v in verbs:
        if v in syn_verbs:
            compare(f'mfactl(8) SYNOPSIS of {v}', syn_verbs[v],
                    f'the options of {v} in mfactl/*.c', set(code[v]) - {'help'}, fmt_opt)

    # DESCRIPTION: a list of global options (items "Fl ...") and a list of
    # verbs (items "Cm VERB ..."), each verb's options tagged in its item.
    desc = section(lines, 'DESCRIPTION')
    lists = parse_lists(desc)
    verb_lists = [lst for lst in lists if lst and all(head_macros(it.head) in ('Cm', '.Cm') for it in lst)]
    opt_lists = [lst for lst in lists if lst and all(head_macros(it.head) == 'Fl' for it in lst)]
    if len(verb_lists) != 1 or len(opt_lists) != 1:
        problem(f'mfactl(8) DESCRIPTION: expected one list of verbs and one of global options, '
                f'found {len(verb_lists)} and {len(opt_lists)}')
        return
    verb_help_said = re.search(r'^\.Nm Ar verb Fl -help$', '\n'.join(desc), re.M) is not None
    man_global = {}
    for it in opt_lists[0]:
        tag = option_tag(it.head)
        if tag and tag[0]:
            man_global[tag[0]] = (tag[1], tag[2])
    check_option_docs('mfactl(8) global options', man_global, 'main()', code[None])

    man_verbs = {}
    for it in verb_lists[0]:
        verb = re.match(r'\.?Cm\s+([\w-]+)', it.head).group(1)
        opts = man_verbs.setdefault(verb, {})
        for sub in walk_items([x for lst in it.lists for x in lst]):
            tag = option_tag(sub.head)
            if tag and tag[0]:
                opts[tag[0]] = (tag[1], tag[2])
    compare('mfactl(8) DESCRIPTION verbs', set(man_verbs), 'mfactl/*.c verbs', set(verbs))
    for v in verbs:
        if v not in man_verbs:
            continue
        documented = dict(man_verbs[v])
        if 'help' in code[v] and 'help' not in documented and verb_help_said:
            documented['help'] = code[v]['help']    # "mfactl verb --help" covers it
        check_option_docs(f'mfactl(8) options of {v}', documented, f'{v} in mfactl/*.c', code[v])

    check_mfactl_help(mfactl, code, verbs)
    if completion:
        check_completion(completion, code, verbs)


def compare(what_a, a, what_b, b, fmt=str):
    for x in sorted(b - a):
        problem(f'{what_a} lack {fmt(x)}, which {what_b} has')
    for x in sorted(a - b):
        problem(f'{what_a} have {fmt(x)}, which {what_b} does not')


def check_option_docs(where, documented, code_where, code_opts):
    """documented, code_opts: {long: (short, takes_arg)}."""
    compare(where, set(documented), code_where, set(code_opts), fmt_opt)
    for o in sorted(set(documented) & set(code_opts)):
        (ds, da), (cs, ca) = documented[o], code_opts[o]
        if ds != cs:
            problem(f'{where}: --{o} has the short form {"-" + ds if ds else "none"}, '
                    f'{code_where} {"-" + cs if cs else "none"}')
        if da != ca:
            problem(f'{where}: --{o} {"takes" if da else "takes no"} argument, '
                    f'but in {code_where} it {"does" if ca else "does not"}')


def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    return p.returncode, p.stdout, p.stderr


def help_option_lines(text):
    """{long: (short, takes_arg)} from lines like "  -m, --method M   totp...". """
    out = {}
    for m in re.finditer(r'^\s+(?:-(\w), )?--([\w-]+)( [A-Z][A-Z_]*)?(?:\s{2,}|$)', text, re.M):
        out[m.group(2)] = (m.group(1), bool(m.group(3)))
    return out


def check_mfactl_help(mfactl, code, verbs):
    rc, out, err = run([mfactl, 'help'])
    if rc != 0:
        problem(f'"mfactl help" exited {rc}: {err.strip()}')
        return
    usage_verbs = {}
    verb = None
    for line in out.split('\n'):
        m = re.match(r'(?:usage:|\s+)\s*mfactl\s+(.*)$', line)
        if not m:
            # A usage line continued below it ("   [--add|--force]").
            if verb and verb != 'help' and re.match(r'\s+\[', line):
                usage_verbs[verb].update(re.findall(r'--([\w-]+)', line))
            else:
                verb = None
            continue
        words = m.group(1).split()
        verb = next((w for w in words if re.fullmatch(r'[a-z][a-z-]*', w)), None)
        if verb:
            usage_verbs.setdefault(verb, set()).update(
                re.findall(r'--([\w-]+)', m.group(1)) if verb != 'help' else [])
    compare('"mfactl help" usage lines', set(usage_verbs), 'mfactl/*.c verbs', set(verbs))
    for v in verbs:
        if v in usage_verbs:
            compare(f'"mfactl help" usage of {v}', usage_verbs[v],
                    f'the options of {v} in mfactl/*.c', set(code[v]) - {'help'}, fmt_opt)
    glob = out.split('Global options', 1)
    if len(glob) != 2:
        problem('"mfactl help" has no "Global options" paragraph')
    else:
        check_option_docs('"mfactl help" global options', help_option_lines(glob[1]),
                          'main()', code[None])
    say_verb_help = '--help" for a verb' in out or 'VERB --help' in out

    for v in verbs:
        if v == 'help':
            continue
        rc, out, err = run([mfactl, v, '--help'])
        if rc != 0:
            problem(f'"mfactl {v} --help" exited {rc}: {err.strip()}')
            continue
        listed = help_option_lines(out)
        # Options named in the usage lines or the text but not listed.
        for o in re.findall(r'--([\w-]+)', out):
            if o not in listed and o in code[v]:
                listed[o] = code[v][o]
            elif o not in listed:
                listed[o] = (None, None)
        if 'help' in code[v] and 'help' not in listed and say_verb_help:
            listed['help'] = code[v]['help']
        check_option_docs(f'"mfactl {v} --help"', listed, f'{v} in mfactl/*.c', code[v])


COMPLETION_DRIVER = r'''
. "$1" || exit 1
comp() {  # the completions of the words given, the last one being completed
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_mfactl mfactl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
	echo "${COMPREPLY[*]}"
}
echo "verbs $(comp mfactl '')"
echo "opts - $(comp mfactl -)"
shift
for q in "$@"; do
	case $q in
	verb:*) v=${q#verb:}; echo "opts $v $(comp mfactl "$v" -)" ;;
	arg:*)
		set -- ${q#arg:}
		opt_long= opt_arg=
		if _mfactl_option "$1" "$2"; then echo "arg $1 $2 $opt_long $opt_arg"
		else echo "arg $1 $2 unknown"; fi ;;
	esac
done
'''


def check_completion(completion, code, verbs):
    queries = [f'verb:{v}' for v in verbs]
    for v in [None] + verbs:
        for long, (short, _) in code[v].items():
            queries.append(f'arg:{v or ""} --{long}' if v else f'arg: --{long}')
            if short:
                queries.append(f'arg:{v or ""} -{short}' if v else f'arg: -{short}')
    # Global options go through _mfactl_option with an empty verb.
    queries = [q.replace('arg: ', 'arg:"" ') for q in queries]
    script = COMPLETION_DRIVER.replace('set -- ${q#arg:}', 'eval "set -- ${q#arg:}"')
    p = subprocess.run(['bash', '--norc', '--noprofile', '-c', script, 'driver', completion] + queries,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    if p.returncode != 0:
        problem(f'the completion driver failed: {p.stderr.strip()}')
        return
    comp_opts = {}
    args = {}
    for line in p.stdout.split('\n'):
        f = line.split()
        if not f:
            continue
        if f[0] == 'verbs':
            compare('the completion of verbs', set(f[1:]), 'mfactl/*.c verbs', set(verbs))
        elif f[0] == 'opts':
            comp_opts[None if f[1] == '-' else f[1]] = {o[2:] for o in f[2:] if o.startswith('--')}
        elif f[0] == 'arg':
            # "arg VERB OPT LONG TAKES" (VERB may be empty: then 4 fields)
            if f[-1] == 'unknown':
                args[(f[1] if len(f) == 4 else None, f[-2])] = None
            else:
                verb = f[1] if len(f) == 5 else None
                args[(verb, f[-3])] = (f[-2][2:], f[-1] == '1')
    for v in [None] + verbs:
        name = f'the completion of {v} options' if v else 'the completion of global options'
        compare(name, comp_opts.get(v, set()), f'{v or "main()"} in mfactl/*.c', set(code[v]), fmt_opt)
        for long, (short, takes) in code[v].items():
            for form in ['--' + long] + (['-' + short] if short else []):
                got = args.get((v, form))
                if got is None:
                    problem(f'{name}: {form} is not known to _mfactl_option')
                elif got != (long, takes):
                    problem(f'{name}: {form} is --{got[0]}, {"taking" if got[1] else "without"} '
                            f'an argument; in mfactl/*.c --{long}, {"taking" if takes else "without"} one')


# --------------------------------------------------------------- pam_mfa

def mdoc_argument_forms(text):
    """'config=*', 'skip_result=ignore', ... from "Cm config Ns = Ns Ar path"."""
    text = re.sub(r'^\.?(Op|It)\s+', '', text.strip())
    text = re.sub(r'\s*\bNs\b\s*', '', text)
    text = re.sub(r'\bAr\s+\S+', '*', text)
    text = re.sub(r'\b(Cm|Li|Ql)\s+', '', text)
    parts = [p.strip() for p in text.split('|')]
    first = parts[0]
    out = {first}
    if '=' in first:
        prefix = first.split('=', 1)[0] + '='
        out |= {prefix + p for p in parts[1:]}
    return out


def check_pam_module(src):
    text = strip_comments(read(os.path.join(src, 'pam_mfa', 'pam_mfa.c')))
    code = set(re.findall(r'strcmp\s*\(\s*argv\[\w+\]\s*,\s*"([^"]+)"\s*\)', text))
    code |= {p + '*' for p in re.findall(r'strncmp\s*\(\s*argv\[\w+\]\s*,\s*"([^"]+)"\s*,', text)}
    if len(code) < 2:
        problem(f'pam_mfa/pam_mfa.c: found too few module arguments to check: {sorted(code)}')
    checked['module arguments'] = len(code)
    lines = mdoc_lines(os.path.join(src, 'man', 'pam_mfa.8'))
    synopsis = set()
    for line in section(lines, 'SYNOPSIS'):
        if line.startswith('.Op'):
            synopsis |= mdoc_argument_forms(line)
    options = set()
    for lst in parse_lists(section(lines, 'OPTIONS'))[:1]:
        for it in lst:
            options |= mdoc_argument_forms(it.head)
    compare('pam_mfa(8) SYNOPSIS arguments', synopsis, 'pam_mfa.c', code)
    compare('pam_mfa(8) OPTIONS', options, 'pam_mfa.c', code)


# ---------------------------------------------------------------- config

def c_defines(src):
    out = {}
    for d in ('pam_mfa',):
        for f in os.listdir(os.path.join(src, d)):
            if f.endswith('.h'):
                for name, value in re.findall(r'^#define\s+(\w+)\s+\(?(-?\d+)[UL]*\)?\s*$',
                                              read(os.path.join(src, d, f)), re.M):
                    out[name] = int(value)
    return out


def check_config(src):
    text = strip_comments(read(os.path.join(src, 'core', 'config.c')))
    tables = c_initializer(text, r'struct\s+key_spec\s+(?P<name>\w+)\s*\[\s*\]\s*=\s*\{')
    defines = c_defines(src)
    entry_re = re.compile(r'\{\s*"([^"]+)"\s*,\s*(KEY_\w+)\s*,\s*([^,]+),\s*([^,]+),\s*([^,]+),'
                          r'\s*(\w+)\s*,\s*(\w+)\s*\}')
    parsed = {name: entry_re.findall(body) for name, body in tables.items()}
    subtables = {e[5] for entries in parsed.values() for e in entries if e[5] != 'NULL'}
    roots = [t for t in parsed if t not in subtables]
    if len(roots) != 1 or not parsed.get(roots[0]):
        problem(f'core/config.c: expected one top-level key_spec table, found {roots}')
        return
    code = {}

    def value(s):
        s = s.strip()
        return int(s) if re.fullmatch(r'-?\d+', s) else defines.get(s)

    def add(table, prefix):
        for name, kind, _, lo, hi, sub, _ in parsed[table]:
            code[prefix + name] = (kind, value(lo), value(hi))
            if sub != 'NULL':
                add(sub, prefix + name + '.')
    add(roots[0], '')
    checked['config keys'] = len(code)

    lines = mdoc_lines(os.path.join(src, 'man', 'pam_mfa.conf.5'))
    settings = parse_lists(section(lines, 'Settings', 'Ss'))
    man = {}

    def walk(items, prefix):
        for it in items:
            m = re.match(r'Ic\s+(\w+)', it.head)
            if not m:
                continue
            man[prefix + m.group(1)] = ' '.join(it.body)
            for lst in it.lists:
                walk(lst, prefix + m.group(1) + '.')
    for lst in settings:
        walk(lst, '')
    compare('pam_mfa.conf(5) Settings', set(man), 'the key_spec tables of config.c', set(code))
    for key in sorted(set(man) & set(code)):
        kind, lo, hi = code[key]
        if kind in ('KEY_UINT', 'KEY_STRING') and lo is not None and hi is not None:
            if not re.search(rf'\b{lo} to {hi}\b', man[key]):
                problem(f'pam_mfa.conf(5): {key}: config.c allows {lo} to {hi}'
                        f'{" characters" if kind == "KEY_STRING" else ""}, '
                        f'which its description does not say')


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, mfactl = sys.argv[1], sys.argv[2]
    completion = sys.argv[3] if len(sys.argv) > 3 else None
    check_mfactl(src, mfactl, completion)
    check_pam_module(src)
    check_config(src)
    print('checked: ' + ', '.join(f'{n} {what}' for what, n in checked.items()))
    for p in problems:
        print('MISMATCH:', p)
    if problems:
        print(f'{len(problems)} mismatch(es) between the code and its documentation')
        return 1
    print('code and documentation agree')
    return 0


if __name__ == '__main__':
    sys.exit(main())
