# bash completion for mfactl(8), the admin tool of pam_mfa.
#
# Completes the verbs, each verb's options and their values (--method,
# --qr, --from, --to, --config, --sql-dir; not --label, --phone, --factor,
# --address, --uses or --valid, which are the admin's to type), user names where a verb takes a USER,
# file names where it takes a FILE, and the commands of db.  User names come from the passwd database
# (compgen -u), for root and others alike: who is enrolled is readable by
# root only, and asking "mfactl status" at every TAB would load the
# configuration and read every record.  It needs no bash-completion
# helpers, so it also works when sourced by hand.
#
# Keep the tables below in step with mfactl/*.c: tests/docs checks them
# against the code, the usage texts and mfactl(8).

# The verbs, in the order of mfactl's usage.
_mfactl_verbs="enroll status policy recovery-codes bypass reset send-setup import unlock check db migrate help"

# The options of a verb ("" for the global ones, before the verb), each as
# LONG[,SHORT], with a trailing "=" if it takes an argument.
_mfactl_options()
{
	case $1 in
	'') echo "config,c= help,h version,V" ;;
	enroll) echo "method,m= label,l= add,A force,f qr,q= address,a= phone,p= verified,v no-recovery-codes help,h" ;;
	import) echo "from,F= force,f dry-run,n help,h" ;;
	status) echo "json,j missing,m help,h" ;;
	reset) echo "method,m= factor,F= all,a yes,y logout,L help,h" ;;
	bypass) echo "uses,u= valid,v= revoke,r help,h" ;;
	policy | send-setup | unlock | check | recovery-codes) echo "help,h" ;;
	db) echo "sql-dir,S= help,h" ;;
	migrate) echo "to,t= force,f dry-run,n help,h" ;;
	esac
}

# What the n-th argument (from 0) of a verb is: user, file, a command of
# db, or nothing.
# $3 is the value of import's --from; $4 is 1 after reset --all.
_mfactl_positional()
{
	case $1 in
	status) echo user ;;
	reset) (($2 == 0 && !$4)) && echo user ;;
	enroll | policy | send-setup | unlock | recovery-codes | bypass) (($2 == 0)) && echo user ;;
	db) (($2 == 0)) && echo db-command ;;
	import)
		if [[ $3 == google-authenticator ]]; then
			(($2 == 0)) && echo user
			(($2 == 1)) && echo file
		else
			(($2 == 0)) && echo file
		fi
		;;
	esac
	return 0
}

# Looks up option $2 ("--method", "-m") of verb $1: sets opt_long to its
# long form ("--method") and opt_arg to 1 if it takes an argument; returns
# 1 for an option the verb does not have.
_mfactl_option()
{
	local e name
	opt_long=
	opt_arg=0
	for e in $(_mfactl_options "$1"); do
		name=${e%=}
		if [[ $2 == "--${name%%,*}" || ($name == *,* && $2 == "-${name#*,}") ]]; then
			opt_long=--${name%%,*}
			[[ $e == *= ]] && opt_arg=1
			return 0
		fi
	done
	return 1
}

# Whether $2 is an option of verb $1 whose argument is the next word.
_mfactl_takes_arg()
{
	local opt_long opt_arg
	_mfactl_option "$1" "$2" && ((opt_arg))
}

# The long options of verb $1.
_mfactl_long_options()
{
	local e
	for e in $(_mfactl_options "$1"); do
		e=${e%=}
		printf -- '--%s\n' "${e%%,*}"
	done
}

# Readline splits "png:FILE" and "--qr=png:FILE" into several words at
# COMP_WORDBREAKS; mfactl sees one.  Rebuilds words, cword and cur (up to
# the cursor) as mfactl will see them.
_mfactl_words()
{
	local line=${COMP_LINE:0:COMP_POINT} w i glue
	words=()
	cword=-1
	for ((i = 0; i <= COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		glue=1
		if ((i == 0)) || [[ $line == [[:space:]]* ]]; then
			glue=0
			line=${line#"${line%%[![:space:]]*}"}
		fi
		((i == COMP_CWORD)) && w=${line:0:${#w}}
		line=${line:${#w}}
		if ((glue && cword >= 0)); then
			words[cword]+=$w
		else
			words[++cword]=$w
		fi
	done
	cur=${words[cword]}
}

# Adds to COMPREPLY each of the words after $1 that starts with $1.
_mfactl_add()
{
	local prefix=$1 w
	shift
	for w; do
		[[ $w == "$prefix"* ]] && COMPREPLY+=("$w")
	done
}

# Adds the file names that start with $2, each after the prefix $1.
_mfactl_add_files()
{
	local f
	while IFS= read -r f; do
		COMPREPLY+=("$1$f")
	done < <(compgen -f -- "$2")
	compopt -o filenames 2>/dev/null
	return 0
}

_mfactl_add_users()
{
	local u
	while IFS= read -r u; do
		COMPREPLY+=("$u")
	done < <(compgen -u -- "$1")
}

# Adds the values of option $1 (long form) that start with $2, each after
# the prefix $3 (such as "--qr=").
_mfactl_add_values()
{
	local v
	local -a values=()
	case $1 in
	--config | --sql-dir) _mfactl_add_files "$3" "$2" ;;
	--method) values=(totp email sms) ;;
	--from) values=(oath google-authenticator) ;;
	--to) values=(postgresql) ;;
	--qr)
		case $2 in
		png:* | svg:*) _mfactl_add_files "$3${2:0:4}" "${2:4}" ;;
		*)
			values=(utf8 ansi none png: svg:)
			# "png:" is followed by the file name, not a space.
			[[ png: == "$2"* || svg: == "$2"* ]] && compopt -o nospace 2>/dev/null
			;;
		esac
		;;
	esac
	for v in "${values[@]}"; do
		[[ $v == "$2"* ]] && COMPREPLY+=("$3$v")
	done
	return 0
}

_mfactl()
{
	local cur words cword verb='' i w from='' all=0 nargs=0 dashdash=0 opt_long opt_arg
	local -a list
	COMPREPLY=()
	_mfactl_words

	# The words before the cursor: global options and their values, the
	# verb, then its options, their values and its arguments, in any order
	# (getopt_long permutes) until "--".
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if ((!dashdash)) && [[ $w == -- && -n $verb ]]; then
			dashdash=1
		elif ((!dashdash)) && [[ $w == -?* ]]; then
			_mfactl_option "$verb" "${w%%=*}" || continue
			if [[ $w != *=* ]] && ((opt_arg)); then
				if ((i + 1 == cword)); then
					_mfactl_add_values "$opt_long" "$cur" ""
					_mfactl_trim
					return 0
				fi
				w=$opt_long=${words[++i]}
			fi
			[[ $verb == import && $w == --from=* ]] && from=${w#--from=}
			[[ $verb == reset && $opt_long == --all ]] && all=1
		elif [[ -z $verb ]]; then
			verb=$w
		else
			((nargs++))
		fi
	done

	if ((!dashdash)) && [[ $cur == --*=* ]]; then
		_mfactl_option "$verb" "${cur%%=*}" &&
			_mfactl_add_values "$opt_long" "${cur#*=}" "${cur%%=*}="
	elif ((!dashdash)) && [[ $cur == -* ]]; then
		mapfile -t list < <(_mfactl_long_options "$verb")
		_mfactl_add "$cur" "${list[@]}"
	elif [[ -z $verb ]]; then
		read -ra list <<<"$_mfactl_verbs"
		_mfactl_add "$cur" "${list[@]}"
	else
		case $(_mfactl_positional "$verb" "$nargs" "$from" "$all") in
		user) _mfactl_add_users "$cur" ;;
		file) _mfactl_add_files "" "$cur" ;;
		db-command) _mfactl_add "$cur" init check ;;
		esac
	fi
	_mfactl_trim
	return 0
}

# Readline replaces only the text after the last COMP_WORDBREAKS character
# of the word: drop what comes before it from each match.
_mfactl_trim()
{
	local keep=$cur c i
	for c in : =; do
		[[ $COMP_WORDBREAKS == *"$c"* ]] || continue
		[[ $keep == *"$c"* ]] && keep=${keep##*"$c"}
	done
	local prefix=${cur:0:${#cur}-${#keep}}
	[[ -n $prefix ]] || return 0
	for i in "${!COMPREPLY[@]}"; do
		COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
	done
}

complete -F _mfactl mfactl
