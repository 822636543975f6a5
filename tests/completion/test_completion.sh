#!/bin/bash
# Drives mfactl's bash completion as bash would: sources completion/mfactl.bash,
# sets COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT for a command line,
# calls the completion function and compares COMPREPLY with what is expected.
# Usage: test_completion.sh [PATH/TO/mfactl.bash]
set -u

here=$(cd "$(dirname "$0")" && pwd)
completion=${1:-$here/../../completion/mfactl.bash}
# shellcheck source=../../completion/mfactl.bash
. "$completion" || exit 1

failures=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/dir"
touch "$tmp/a.conf" "$tmp/img.png" "$tmp/dir/secrets.txt"
cd "$tmp" || exit 1

# Splits LINE into COMP_WORDS the way readline does, as seen in bash 5.2:
# at blanks, and ':' and '=' (in COMP_WORDBREAKS) become words of their
# own: "--qr=png:/tm" is "--qr" "=" "png" ":" "/tm".  The cursor is at the
# end of the line.  Prints COMPREPLY sorted, on one line.
complete_line()
{
	local line=$1 tok word c i
	local -a toks
	COMP_WORDS=()
	read -ra toks <<<"$line"
	for tok in "${toks[@]}"; do
		word=
		for ((i = 0; i < ${#tok}; i++)); do
			c=${tok:i:1}
			if [[ $c == [:=] ]]; then
				[[ -n $word ]] && COMP_WORDS+=("$word")
				COMP_WORDS+=("$c")
				word=
			else
				word+=$c
			fi
		done
		[[ -n $word ]] && COMP_WORDS+=("$word")
	done
	[[ $line == *' ' ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	_mfactl mfactl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | paste -sd ' ' -
}

# expect LINE WANTED: the completions of LINE are exactly WANTED.
expect()
{
	local got
	got=$(complete_line "$1")
	if [[ $got != "$2" ]]; then
		printf 'FAIL: "%s": got [%s], want [%s]\n' "$1" "$got" "$2"
		failures=$((failures + 1))
	fi
}

# expect_has LINE WORD: WORD is among the completions of LINE.
expect_has()
{
	local got
	got=" $(complete_line "$1") "
	if [[ $got != *" $2 "* ]]; then
		printf 'FAIL: "%s": got [%s], want it to include %s\n' "$1" "$got" "$2"
		failures=$((failures + 1))
	fi
}

complete -p mfactl | grep -q -- '-F _mfactl' || {
	echo "FAIL: sourcing the file does not register _mfactl for mfactl"
	failures=$((failures + 1))
}

# Verbs, and the global options before them.
expect 'mfactl ' 'bypass check db enroll help import migrate policy recovery-codes reset send-setup status unlock'
expect 'mfactl s' 'send-setup status'
expect 'mfactl -' '--config --help --version'
expect 'mfactl --c' '--config'
expect 'mfactl --config ' 'a.conf dir img.png'
expect 'mfactl -c a' 'a.conf'
expect 'mfactl --config=a' 'a.conf'
expect 'mfactl --config=dir/' 'dir/secrets.txt'
expect 'mfactl -c /etc/x.conf en' 'enroll'
expect 'mfactl --config=/etc/x.conf ch' 'check'
expect 'mfactl bogus ' ''
expect 'mfactl help ' ''

# enroll USER [--method totp|email|sms] [--label L] [--add|--force] [--qr STYLE]
#        [--address A] [--phone NUMBER] [--verified]
expect 'mfactl enroll -' '--add --address --force --help --label --method --no-recovery-codes --phone --qr --verified'
expect 'mfactl enroll --n' '--no-recovery-codes'
expect 'mfactl enroll --m' '--method'
expect 'mfactl enroll --method ' 'email sms totp'
expect 'mfactl enroll -m s' 'sms'
expect 'mfactl enroll --phone ' ''
expect 'mfactl enroll --label ' ''
expect_has 'mfactl enroll -m sms -p +15550100 -l phone ro' 'root'
expect_has 'mfactl enroll --add --label tablet ro' 'root'
expect 'mfactl enroll -m e' 'email'
expect 'mfactl enroll --method=t' 'totp'
expect 'mfactl enroll --qr ' 'ansi none png: svg: utf8'
expect 'mfactl enroll -q p' 'png:'
expect 'mfactl enroll --qr png:' 'a.conf dir img.png'
expect 'mfactl enroll --qr svg:i' 'img.png'
expect 'mfactl enroll --qr=png:dir/' 'dir/secrets.txt'
expect 'mfactl enroll --qr=u' 'utf8'
expect 'mfactl enroll --address ' ''
expect_has 'mfactl enroll ro' 'root'
expect_has 'mfactl enroll --force ro' 'root'
expect_has 'mfactl enroll --address a@example.org ro' 'root'
expect_has 'mfactl enroll -a a@example.org -q none ro' 'root'
expect 'mfactl enroll root ' ''
expect 'mfactl enroll -m email root ' ''
expect 'mfactl enroll root --qr none --v' '--verified'
expect_has 'mfactl -c /x.conf enroll --method email ro' 'root'

# status [--json] [--missing] [USER...]
expect 'mfactl status -' '--help --json --missing'
expect_has 'mfactl status ro' 'root'
expect_has 'mfactl status root ro' 'root'
expect_has 'mfactl status -m ro' 'root'
expect_has 'mfactl status --json --missing ro' 'root'

# reset USER [--method totp|email|sms | --factor LABEL] [--yes]
# reset --all --yes
expect 'mfactl reset -' '--all --factor --help --logout --method --yes'
expect_has 'mfactl reset --logout ro' 'root'
expect 'mfactl reset --method ' 'email sms totp'
expect_has 'mfactl reset -m totp ro' 'root'
expect_has 'mfactl reset --factor phone ro' 'root'
expect_has 'mfactl reset -F phone --yes ro' 'root'
expect 'mfactl reset --factor ' ''
expect 'mfactl reset root ' ''
expect 'mfactl reset --all ' ''
expect 'mfactl reset --all --y' '--yes'
expect 'mfactl reset -a --yes ' ''

# bypass USER [--uses N] [--valid DURATION] | bypass USER --revoke
expect 'mfactl bypass -' '--help --revoke --uses --valid'
expect_has 'mfactl bypass ro' 'root'
expect_has 'mfactl bypass --uses 2 --valid 1h ro' 'root'
expect 'mfactl bypass --valid ' ''
expect 'mfactl bypass -u ' ''
expect 'mfactl bypass root ' ''
expect 'mfactl bypass root --r' '--revoke'

# The verbs that take one USER and no option but --help.
for verb in policy send-setup unlock recovery-codes; do
	expect "mfactl $verb -" '--help'
	expect_has "mfactl $verb ro" 'root'
	expect "mfactl $verb root " ''
done
expect_has 'mfactl unlock -- ro' 'root'

# check: nothing to complete but --help.
expect 'mfactl check ' ''
expect 'mfactl check -' '--help'

# db init [--sql-dir DIR] | db check
expect 'mfactl db ' 'check init'
expect 'mfactl db i' 'init'
expect 'mfactl db check ' ''
expect 'mfactl db init -' '--help --sql-dir'
expect 'mfactl db init --sql-dir ' 'a.conf dir img.png'
expect 'mfactl db init --sql-dir=d' 'dir'
expect 'mfactl db init ' ''

# migrate --to postgresql [--force] [--dry-run]
expect 'mfactl migrate -' '--dry-run --force --help --to'
expect 'mfactl migrate --to ' 'postgresql'
expect 'mfactl migrate -t p' 'postgresql'
expect 'mfactl migrate --to=p' 'postgresql'
expect 'mfactl migrate --to postgresql ' ''

# import --from oath [--force] [--dry-run] FILE
# import --from google-authenticator [--force] [--dry-run] USER FILE
expect 'mfactl import -' '--dry-run --force --from --help'
expect 'mfactl import -F g' 'google-authenticator'
expect_has 'mfactl import -n -f -F google-authenticator ro' 'root'
expect 'mfactl import --from ' 'google-authenticator oath'
expect 'mfactl import --from=o' 'oath'
expect 'mfactl import --from oath a' 'a.conf'
expect 'mfactl import --from oath a.conf ' ''
expect 'mfactl import --force --from oath dir/' 'dir/secrets.txt'
expect_has 'mfactl import --from google-authenticator ro' 'root'
expect 'mfactl import --from google-authenticator root i' 'img.png'
expect 'mfactl import --from=google-authenticator root img.png ' ''
expect 'mfactl import root --from google-authenticator i' 'img.png'

# bash-completion loads the file on demand, by the command's name, from a
# function: the tables must survive that (no "declare" that goes local).
if [[ -r /usr/share/bash-completion/bash_completion ]]; then
	mkdir -p "$tmp/user/completions"
	cp "$completion" "$tmp/user/completions/mfactl"
	got=$(env -i HOME="$tmp" PATH=/usr/bin:/bin BASH_COMPLETION_USER_DIR="$tmp/user" \
		bash --norc --noprofile -c '
		. /usr/share/bash-completion/bash_completion
		__load_completion mfactl || exit 1
		COMP_WORDS=(mfactl enroll --method ""); COMP_CWORD=3
		COMP_LINE="mfactl enroll --method "; COMP_POINT=${#COMP_LINE}
		_mfactl mfactl "" --method 2>/dev/null
		echo "${COMPREPLY[*]}"' 2>&1)
	if [[ $got != "totp email sms" ]]; then
		echo "FAIL: loaded by bash-completion: got [$got], want [totp email sms]"
		failures=$((failures + 1))
	fi
else
	echo "note: bash-completion is not installed; its on-demand loading is not tested"
fi

if ((failures > 0)); then
	echo "$failures failure(s)"
	exit 1
fi
echo "all completions as expected"
