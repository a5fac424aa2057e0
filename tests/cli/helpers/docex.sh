#!/bin/bash
# docex.sh OUTDIR DOC...: extract the examples of README.md (fenced ```sh
# blocks) and of man pages (the .Bd -literal and .Dl blocks of .Sh EXAMPLES)
# for tests/cli/docs.bats. Each example becomes OUTDIR/NNNN.* (NNNN counts up
# across the documents, in their order):
#   NNNN.where  DOC:LINE of its first line
#   NNNN.kind   cmd (a shell command), cron (a crontab entry: its command),
#               or file PATH (the block is the text of the file PATH)
#   NNNN.cmd    the command (or the file's text), roff escapes undone
#   NNNN.exp    what the document shows it prints, when it shows it
# The conventions (README.md says them too):
#   - a command is one line, or several while the shell says it is not
#     complete yet (an open quote, brace, loop, a trailing \ or |);
#   - in a block with "$ " prompts, the lines after a command up to the next
#     prompt are its standard output, exactly;
#   - in README.md a command's trailing comment "# prints TEXT" is its
#     output (one line); any other comment is a remark;
#   - a trailing comment "# exit N" is the status a command exits with;
#   - a crontab line (five time fields, then a command) is its command; a
#     VAR=value line before it is an assignment, as in a crontab;
#   - a block after <!-- docs-test: file PATH --> (README.md) or
#     .\" docs-test: file PATH (a man page) is a file, not commands.
# Exits 65 with DOC:LINE on a roff escape it does not know.
set -u
out=$1
shift
n=0

# unroff TEXT: the literal text of a line of an mdoc display
unroff() {
	local s=$1
	s=${s//\\e/$'\001'}
	s=${s//\\&/}
	s=${s//\\(:u/ü}
	s=${s//\\(:o/ö}
	s=${s//\\(ss/ß}
	s=${s//\\(\'e/é}
	s=${s//\\(en/–}
	s=${s//\\(em/—}
	s=${s//\\(Eu/€}
	s=${s//\\(dq/\"}
	s=${s//\\(aq/\'}
	s=${s//\\(ga/\`}
	s=${s//\\-/-}
	# \[uXXXX]: the Unicode character, in UTF-8
	local re='\\\[u([0-9A-F]{4,6})\]' ch
	while [[ $s =~ $re ]]; do
		ch=$(perl -CO -e 'print chr(hex($ARGV[0]))' "${BASH_REMATCH[1]}")
		s=${s//"${BASH_REMATCH[0]}"/$ch}
	done
	[[ $s != *\\[\(\[*]* ]] || return 1
	printf '%s' "${s//$'\001'/\\}"
}

# complete TEXT: TEXT is a whole shell command
complete() {
	case $1 in *\\ | *'|' | *'&&' | *'||') return 1 ;; esac
	bash -n <<<"$1" 2>/dev/null
}

# emit WHERE KIND CMD [EXP]: one example
emit() {
	local f
	printf -v f '%s/%04d' "$out" $((++n))
	printf '%s\n' "$1" >"$f.where"
	printf '%s\n' "$2" >"$f.kind"
	printf '%s\n' "$3" >"$f.cmd"
	[ $# -lt 4 ] || printf '%s\n' "$4" >"$f.exp"
}

# block DOC FIRSTLINE ISREADME FILEPATH: split the lines in B[] into examples
block() {
	local doc=$1 first=$2 readme=$3 file=$4 i=0 cmd start exp prompt=0 l kind
	if [ -n "$file" ]; then
		emit "$doc:$first" "file $file" "$(printf '%s\n' "${B[@]}")"
		return
	fi
	for l in "${B[@]}"; do [[ $l == '$ '* ]] && prompt=1; done
	while [ $i -lt ${#B[@]} ]; do
		l=${B[i]}
		if [ -z "${l//[[:space:]]/}" ] || [[ $l =~ ^[[:space:]]*# && $l != '#!'* ]]; then
			i=$((i + 1))
			continue
		fi
		if [ $prompt = 1 ]; then
			[[ $l == '$ '* ]] || {
				echo "docex: $doc:$((first + i)): output without a command" >&2
				exit 65
			}
			l=${l#\$ }
		fi
		start=$i
		kind=cmd
		if [[ $l == '#!'* ]]; then # a script: the whole block is one command
			cmd=$(printf '%s\n' "${B[@]:i}")
			i=${#B[@]}
		else
			if [[ $l =~ ^[0-9*/,-]+\ +[0-9*/,-]+\ +[0-9*/,-]+\ +[0-9*/,-]+\ +[0-9*/,-]+\ +(.*)$ ]]; then
				kind=cron
				l=${BASH_REMATCH[1]}
			fi
			cmd=$l
			while ! complete "$cmd"; do
				i=$((i + 1))
				[ $i -lt ${#B[@]} ] || {
					echo "docex: $doc:$((first + start)): the command does not end" >&2
					exit 65
				}
				cmd+=$'\n'${B[i]}
			done
			i=$((i + 1))
		fi
		if [ $prompt = 1 ]; then
			exp=()
			while [ $i -lt ${#B[@]} ] && [[ ${B[i]} != '$ '* ]]; do
				exp+=("${B[i]}")
				i=$((i + 1))
			done
			if [ ${#exp[@]} -gt 0 ]; then
				emit "$doc:$((first + start))" $kind "$cmd" "$(printf '%s\n' "${exp[@]}")"
			else
				emit "$doc:$((first + start))" $kind "$cmd"
			fi
		elif [ "$readme" = 1 ] && [[ $cmd =~ \ #\ prints\ (.*)$ ]]; then
			emit "$doc:$((first + start))" $kind "$cmd" "${BASH_REMATCH[1]}"
		else
			emit "$doc:$((first + start))" $kind "$cmd"
		fi
	done
}

for doc in "$@"; do
	name=${doc##*/}
	[ "$name" = README.md ] || name=man/$name
	mapfile -t L <"$doc"
	file="" inex=0 inb=0 B=() first=0
	for ((k = 0; k < ${#L[@]}; k++)); do
		l=${L[k]}
		if [ "$name" = README.md ]; then
			if [ $inb = 0 ]; then
				if [[ $l =~ ^\<!--\ docs-test:\ file\ ([^ ]+)\ --\>$ ]]; then
					file=${BASH_REMATCH[1]}
				elif [[ $l == '```sh' || ($l == '```'* && -n $file) ]]; then
					inb=1 B=() first=$((k + 2))
				elif [[ $l == '```'* ]]; then
					inb=2 # not shell: the layout, a table
				fi
			elif [[ $l == '```' ]]; then
				[ $inb = 1 ] && block "$name" $first 1 "$file"
				inb=0 file=""
			elif [ $inb = 1 ]; then
				B+=("$l")
			fi
			continue
		fi
		case $l in
		'.Sh EXAMPLES') inex=1 ;;
		'.Sh '*) inex=0 ;;
		esac
		[ $inex = 1 ] || continue
		if [ $inb = 1 ]; then
			if [ "$l" = .Ed ]; then
				block "$name" $first 0 "$file"
				inb=0 file=""
			elif [[ $l != '.\"'* ]]; then
				[[ $l == .* ]] && {
					echo "docex: $name:$((k + 1)): a macro in a display: $l" >&2
					exit 65
				}
				l=$(unroff "$l") || {
					echo "docex: $name:$((k + 1)): an escape docex.sh does not know: $l" >&2
					exit 65
				}
				B+=("$l")
			fi
		elif [[ $l =~ ^\.\\\"\ docs-test:\ file\ ([^ ]+)$ ]]; then
			file=${BASH_REMATCH[1]}
		elif [[ $l == '.Bd -literal'* ]]; then
			inb=1 B=() first=$((k + 2))
		elif [[ $l == '.Dl '* ]]; then
			B=("$(unroff "${l#.Dl }")")
			block "$name" $((k + 1)) 0 ""
		fi
	done
done
echo "$n"
