# SPDX-License-Identifier: MIT
# bash completion for initrd-test. The commands and each command's options are read from
# the program's own --help (so they cannot drift from it), running VM names from
# 'initrd-test ps -q', scenarios from the directories here and the installed examples.

# The words of one --help: commands (after "commands:") or options (--long and -x).
_initrd_test_commands() {
	"$1" --help 2>/dev/null | sed -n '/^commands:$/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'
}

_initrd_test_options() {
	"$1" "$2" --help 2>/dev/null |
		sed -n 's/^  \(-[A-Za-z0-9], \)\{0,1\} *\(--[a-z0-9-]*\).*/\1 \2/p' | tr -d ','
}

# The argument name an option takes in the --help ("DIR"), empty when it takes none.
_initrd_test_optarg() {
	"$1" "$2" --help 2>/dev/null |
		sed -n "s/^  \(-[A-Za-z0-9], \)\{0,1\} *$3 \([A-Z][A-Za-z0-9|/]*\).*/\2/p" | head -n 1
}

# The example scenarios installed beside the binary (PREFIX/share/initrd-test/scenarios).
_initrd_test_examples() {
	local bin dir
	bin=$(command -v "$1" 2>/dev/null) || return 0
	dir=${bin%/*}/../share/initrd-test/scenarios
	[ -d "$dir" ] || return 0
	local s
	for s in "$dir"/*/scenario; do
		[ -f "$s" ] || continue
		s=${s%/scenario}
		printf '%s\n' "${s##*/}"
	done
}

# Append the lines a command prints to COMPREPLY.
_initrd_test_add() {
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <("$@")
}

_initrd_test() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev='' bin=${COMP_WORDS[0]} cmd='' i
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-q --quiet -v --verbose -V --version -h --help" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_initrd_test_commands "$bin")" -- "$cur")
		fi
		return 0
	fi

	# The value of an option that takes one.
	if [[ $prev == -* && $i -lt $((COMP_CWORD - 1)) ]]; then
		local arg
		arg=$(_initrd_test_optarg "$bin" "$cmd" "$prev")
		if [ -n "$arg" ]; then
			case $prev in
			--kernel)
				_initrd_test_add compgen -W host -- "$cur"
				_initrd_test_add compgen -f -- "$cur"
				;;
			--accel) mapfile -t COMPREPLY < <(compgen -W "auto kvm tcg" -- "$cur") ;;
			--backend) mapfile -t COMPREPLY < <(compgen -W "qemu crosvm" -- "$cur") ;;
			--compression) mapfile -t COMPREPLY < <(compgen -W "gzip zstd none" -- "$cur") ;;
			--shard) mapfile -t COMPREPLY < <(compgen -W "auto" -- "$cur") ;;
			*)
				case $arg in
				DIR | URL\|DIR) mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
				FILE* | PATH*) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
				esac
				;;
			esac
			return 0
		fi
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_initrd_test_options "$bin" "$cmd")" -- "$cur")
		return 0
	fi
	case $cmd in
	attach | stop | exec)
		mapfile -t COMPREPLY < <(compgen -W "$("$bin" ps -q 2>/dev/null)" -- "$cur")
		;;
	cp)
		local names
		names=$("$bin" ps -q 2>/dev/null | sed 's/$/:/')
		_initrd_test_add compgen -W "$names" -- "$cur"
		_initrd_test_add compgen -f -- "$cur"
		compopt -o nospace 2>/dev/null
		;;
	run | boot | build | replay | resolve)
		_initrd_test_add compgen -W "$(_initrd_test_examples "$bin")" -- "$cur"
		_initrd_test_add compgen -d -- "$cur"
		_initrd_test_add compgen -f -X '!*.scenario' -- "$cur"
		;;
	*)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	esac
	return 0
}

complete -F _initrd_test initrd-test
