# The JSON convention of mailpipe(7), checked against what the tools write:
# the objects and keys are read from the JSON section of man/mailpipe.7
# itself, so that the manual and the tools cannot drift apart.
#
#   json_spec              the list, one "OBJECT<TAB>KEY<TAB>TYPES" a line
#   json_check TOOL FILE   every line of FILE against the list: one problem
#                          a line on stdout, nothing when all is well; the
#                          objects met are added to $JSON_SEEN (a file)
#   exit_table             the EXIT STATUS table: "CODE<TAB>NAME<TAB>PROGRAMS"

json_man() { printf '%s' "${MANDIR:-$BATS_TEST_DIRNAME/../../man}/mailpipe.7"; }

json_spec() {
	# .Ss OBJECT, then .It Li KEY Ta TYPES Ta what it is
	awk '/^\.Sh JSON/ { f = 1; next } /^\.Sh / { f = 0 }
		f && /^\.Ss / { obj = substr($0, 5) }
		f && /^\.It Li [^ ]+ Ta [^ ]+ Ta / { print obj "\t" $3 "\t" $5 }' "$(json_man)"
}

exit_table() {
	awk '/^\.Sh EXIT STATUS/ { f = 1; next } /^\.Sh / { f = 0 }
		f && /^\.It [0-9]+ Ta Dv EX_[A-Z]+ Ta / {
			p = ""; for (i = 7; i <= NF; i++) p = p (p ? " " : "") $i
			print $2 "\t" $5 "\t" p }' "$(json_man)"
}

# the object a line is, in the titles of mailpipe(7): "every program: error",
# else "TOOL TYPE" or "TOOL TYPE, TYPE2"
read -r -d '' JSON_CHECK_JQ <<'EOF' || true
def segs: gsub("\\[\\]"; ".[]") | split(".") | map(select(. != ""));
def vals($s):
  if ($s | length) == 0 then {v: .}
  else $s[0] as $h | $s[1:] as $r
    | if $h == "[]" then (if type == "array" then (.[] | vals($r)) else empty end)
      elif type == "object" then (if has($h) then (.[$h] | vals($r)) else {absent: true} end)
      else empty end
  end;
def errobj: type == "object" and (keys == ["code", "message", "name"])
  and (.code | type) == "number" and (.name | type) == "string"
  and (.name | test("^EX_[A-Z]+$")) and (.message | type) == "string";
def typeok($t; $x): ($t | split("|")) as $ts
  | if $x.absent then ($ts | index("absent")) != null
    else ($x.v | type) as $ty
      | (($ts | index($ty)) != null and $ty != "object")
        or ($ty == "object" and (($ts | index("object")) != null
                                 or (($ts | index("error")) != null and ($x.v | errobj))))
    end;
def title($tool):
  if .type == "error" then "every program: error"
  else .type as $y
    | [$spec[] | .[0] | select(split(" ")[0] == $tool
        and (ltrimstr($tool + " ") | split(", ") | index($y)) != null)] | first
  end;
. as $o
| (if type != "object" then "not an object: \(tojson)"
   elif (.type | type) != "string" then "no type: \(tojson)"
   else title($tool) as $t
   | if $t == null then "\($tool): no object '\(.type)' in mailpipe(7): \(tojson)"
     else
       [$spec[] | select(.[0] == $t)] as $rows
       | ([$rows[] | select(.[2] | split("|") | index("error")) | .[1]]) as $errkeys
       | ("SEEN\t\($t)"),
         ($rows[] as $row | $o | vals($row[1] | segs) as $x
          | select(typeok($row[2]; $x) | not)
          | "\($t): \($row[1]) is \(if $x.absent then "absent" else ($x.v | tojson) end), not \($row[2])"),
         ($o | [paths] | .[] as $p
          | select(($p[-1] | type) == "string" or ($o | getpath($p) | type) != "object")
          | ($p | map(if type == "number" then "[]" else "." + . end) | join("") | ltrimstr(".")) as $k
          | select([$errkeys[] as $e | $k | startswith($e + ".")] | any | not)
          | select([$rows[] | .[1]] | index($k) == null)
          | "\($t): \($k) is not in mailpipe(7)")
     end
   end)
EOF

json_check() {
	local tool=$1 file=$2 spec
	spec=$(json_spec | jq -R -s -c 'split("\n") | map(select(. != "") | split("\t"))')
	# one object on each line, each line whole JSON
	local n
	n=$(grep -c '' "$file")
	[ "$(jq -c . "$file" | grep -c '')" = "$n" ] || echo "$tool: not one JSON object a line: $(cat "$file")"
	jq -r --arg tool "$tool" --argjson spec "$spec" "$JSON_CHECK_JQ" "$file" |
		while IFS= read -r l; do
			case $l in
			SEEN$'\t'*) [ -z "${JSON_SEEN:-}" ] || printf '%s\n' "${l#SEEN$'\t'}" >>"$JSON_SEEN" ;;
			*) printf '%s\n' "$l" ;;
			esac
		done
	# an error's name is the name of its code in the EXIT STATUS table
	local code name want
	while IFS=$'\t' read -r code name; do
		want=$(exit_table | awk -F'\t' -v c="$code" '$1 == c { print $2 }')
		[ "$name" = "$want" ] || echo "$tool: error $code is '$name', the table says '$want'"
	done < <(jq -r '.. | objects | select(has("code") and has("name") and has("message")) | "\(.code)\t\(.name)"' "$file")
}
