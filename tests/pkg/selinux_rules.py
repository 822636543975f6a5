#!/usr/bin/python3
"""Who may do what to pam_mfa's files, from a compiled SELinux policy.

Asks setools, the library sesearch is built on, in one process: each
sesearch run loads the policy again (2 s here), and these checks are some
hundred queries.  Rules count through attributes, as sesearch counts them
by default, on the source and on the target side.

Usage: selinux_rules.py POLICY   (tests/pkg/test_selinux.sh runs it)
Prints PASS/FAIL lines; exits 1 if any check failed.
"""
import sys

import setools
from setools.exception import RuleNotConditional

# What pam_mfa.so and mfa-setup do: open every directory from "/" down to
# the file (util.c, open_trusted_dir), then read the configuration and the
# SMTP password, and lock, read, write, create and rename records.
NEEDED = [
    ('pam_mfa_var_lib_t', 'dir', 'search open read getattr add_name remove_name write'),
    ('pam_mfa_var_lib_t', 'file', 'create open read write getattr lock rename unlink'),
    ('pam_mfa_conf_t', 'file', 'open read getattr'),
    ('pam_mfa_secret_t', 'file', 'open read getattr'),
    ('root_t', 'dir', 'search open read'),
    ('var_t', 'dir', 'search open read'),
    ('var_lib_t', 'dir', 'search open read'),
    ('etc_t', 'dir', 'search open read'),
]
# The login programs, su and sudo of each role, a display manager, vlock,
# and the setuid helper.
AUTHENTICATORS = ['sshd_t', 'local_login_t', 'user_su_t', 'staff_su_t', 'sysadm_su_t',
                  'user_sudo_t', 'staff_sudo_t', 'sysadm_sudo_t', 'xdm_t', 'vlock_t',
                  'pam_mfa_setup_t']
UNPRIVILEGED = ['user_t', 'staff_t']
OURS = ['pam_mfa_var_lib_t', 'pam_mfa_conf_t', 'pam_mfa_secret_t']
ACCESS = {
    'file': set('read write open append create unlink rename link setattr lock ioctl map '
                'execute relabelfrom relabelto'.split()),
    'dir': set('read write open search add_name remove_name create rmdir reparent '
               'relabelfrom relabelto'.split()),
}
BOOLEAN = 'pam_mfa_can_send_email'

failures = 0


def result(ok, msg):
    global failures
    print(('PASS: ' if ok else 'FAIL: ') + msg)
    if not ok:
        failures += 1


def conditional(rule):
    try:
        return rule.conditional
    except RuleNotConditional:
        return None


def granted(policy, source, targets):
    """{(type, class): (unconditional perms, {boolean expression: perms})}
    for every allow rule that applies to source and one of targets."""
    out = {}
    for rule in setools.TERuleQuery(policy, ruletype=('allow',), source=source,
                                    target='^(' + '|'.join(targets) + ')$',
                                    target_regex=True).results():
        cond = conditional(rule)
        for target in rule.target.expand():
            uncond, conds = out.setdefault((str(target), str(rule.tclass)), (set(), {}))
            if cond is None:
                uncond.update(rule.perms)
            else:
                conds.setdefault(f'{cond} is {rule.conditional_block}', set()).update(rule.perms)
    return out


def main():
    policy = setools.SELinuxPolicy(sys.argv[1])
    types = {str(t) for t in policy.types()}

    for domain in AUTHENTICATORS:
        if domain not in types:
            result(False, f'{domain} is not in the policy')
            continue
        rights = granted(policy, domain, {t for t, _, _ in NEEDED} | {'smtp_port_t'})
        missing = []
        for target, tclass, perms in NEEDED:
            have = rights.get((target, tclass), (set(), {}))[0]
            missing += [f'{target}:{tclass}:{p}' for p in perms.split() if p not in have]
        result(not missing,
               f'{domain} may read and update the state, read the config and the secrets'
               if not missing else f'{domain} lacks {" ".join(missing)}')
        smtp = rights.get(('smtp_port_t', 'tcp_socket'), (set(), {}))
        under = [c for c, perms in smtp[1].items()
                 if 'name_connect' in perms and c == BOOLEAN + ' is True']
        result(bool(under), f'{domain} connects to SMTP ports when {BOOLEAN} is on'
               if under else f'{domain} has no SMTP rule under {BOOLEAN}')

    for domain in UNPRIVILEGED:
        rights = granted(policy, domain, OURS)
        found = []
        for (target, tclass), (uncond, conds) in sorted(rights.items()):
            if target in OURS and tclass in ACCESS:
                every = set(uncond).union(*conds.values())
                if every & ACCESS[tclass]:
                    found.append(f'{target}:{tclass} {{ {" ".join(sorted(every & ACCESS[tclass]))} }}')
        result(not found, f'{domain} can neither read nor write the state, the config or the secrets'
               if not found else f'{domain} has rights on pam_mfa files: {"; ".join(found)}')
        # The one way in: mfa-setup, in its own domain, in the role of the user.
        trans = [str(r.default) for r in setools.TERuleQuery(
            policy, ruletype=('type_transition',), source=domain,
            target='pam_mfa_setup_exec_t', tclass=('process',)).results()]
        role = domain[:-2] + '_r'
        in_role = 'pam_mfa_setup_t' in {str(t) for t in policy.lookup_role(role).types()}
        result(trans == ['pam_mfa_setup_t'] and in_role,
               f'{domain} runs mfa-setup in pam_mfa_setup_t (role {role}: {in_role})')

    try:
        state = policy.lookup_boolean(BOOLEAN).state
        result(state is False, f'the boolean {BOOLEAN} is off by default (state {state})')
    except setools.exception.InvalidBoolean:
        result(False, f'no boolean {BOOLEAN}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
