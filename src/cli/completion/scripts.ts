/**
 * The scripts `toolctl completion bash|zsh|fish` prints. Each one asks `toolctl __complete WORD...` for the
 * candidates (./complete.ts): the first line of the answer is a directive (`:nospace`, `:files`, `:dirs`), then one
 * `value<TAB>description` per line. The command is the one the user typed (its path, if they typed one).
 *
 * The scripts are written as raw template strings, where `${` would start an interpolation: they spell the
 * shells' parameter expansion `@{` instead, and `shell()` puts the `$` back.
 */
const shell = (text: string) => text.replaceAll("@{", "${");

const BASH = shell(String.raw`# toolctl completion for bash.
# Load it in this shell:   source <(toolctl completion bash)
# Or for every shell:      toolctl completion bash > ~/.local/share/bash-completion/completions/toolctl
_toolctl_complete() {
    local prog=@{COMP_WORDS[0]}
    prog=@{prog/#\~/$HOME}
    if [[ $prog != */* ]] && ! type -P "$prog" >/dev/null 2>&1; then prog=toolctl; fi

    # Bash splits "name=value" and "a:b" into several words (COMP_WORDBREAKS): join them back, so toolctl
    # sees the words as typed (it removes their quotes itself).
    local -a words=()
    local i w cword=-1 joined=0
    for ((i = 1; i < @{#COMP_WORDS[@]}; i++)); do
        w=@{COMP_WORDS[i]}
        if ((@{#words[@]} > 0)) && [[ $w == "=" || $w == ":" || $joined == 1 ]]; then
            words[@{#words[@]} - 1]+=$w
            [[ $w == "=" || $w == ":" ]] && joined=1 || joined=0
        else
            words+=("$w")
            joined=0
        fi
        if ((i == COMP_CWORD)); then
            cword=$((@{#words[@]} - 1))
            break
        fi
    done
    if ((cword < 0)); then
        words+=("")
        cword=$((@{#words[@]} - 1))
    fi
    # What bash replaces is not the whole word: it starts after a quote left open, else after the last "=" or
    # ":" outside quotes. The part before it, unquoted, is cut from each answer (toolctl answers whole words).
    local full=@{words[cword]} c q= start=0 qstart=0
    for ((i = 0; i < @{#full}; i++)); do
        c=@{full:i:1}
        if [[ $q == "'" ]]; then
            [[ $c == "'" ]] && q=
        elif [[ $c == "\\" ]]; then
            ((i++))
        elif [[ $q == '"' ]]; then
            [[ $c == '"' ]] && q=
        elif [[ $c == "'" || $c == '"' ]]; then
            q=$c qstart=$((i + 1))
        elif [[ $c == [=:] ]]; then
            start=$((i + 1))
        fi
    done
    [[ -n $q ]] && start=$qstart
    local cur=@{full:start} prefix=@{full:0:start} unquoted= inquote=$q
    q=
    for ((i = 0; i < @{#prefix}; i++)); do
        c=@{prefix:i:1}
        if [[ $q == "'" ]]; then
            [[ $c == "'" ]] && q= || unquoted+=$c
        elif [[ $c == "\\" ]]; then
            ((i++))
            [[ $q == '"' && @{prefix:i:1} != [\$\`\"\\] ]] && unquoted+=$c
            unquoted+=@{prefix:i:1}
        elif [[ $q == '"' ]]; then
            [[ $c == '"' ]] && q= || unquoted+=$c
        elif [[ $c == "'" || $c == '"' ]]; then
            q=$c
        else
            unquoted+=$c
        fi
    done
    prefix=$unquoted

    local out
    out=$("$prog" __complete "@{words[@]:0:cword+1}" 2>/dev/null) || return 0
    local directive line
    local -a candidates=()
    {
        IFS= read -r directive
        while IFS= read -r line; do
            line=@{line%%$'\t'*}
            [[ $line == "$prefix"* ]] || continue
            line=@{line#"$prefix"}
            # Inside an open quote bash takes the answer as it is; outside, a blank or quote in it is escaped.
            [[ -z $inquote && $line == *[[:space:]\'\"\\\$\`\;\&\|\<\>\(\)]* ]] && printf -v line '%q' "$line"
            candidates+=("$line")
        done
    } <<<"$out"

    COMPREPLY=()
    case $directive in
    *files* | *dirs*)
        # Without mapfile, which bash 3.2 (macOS) lacks; there compopt is missing too, and file names get a space.
        compopt -o filenames 2>/dev/null
        local kind=-f
        [[ $directive == *dirs* ]] && kind=-d
        while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen "$kind" -- "$cur")
        ;;
    *)
        COMPREPLY=("@{candidates[@]}")
        [[ $directive == *nospace* ]] && compopt -o nospace 2>/dev/null
        ;;
    esac
    return 0
}
complete -F _toolctl_complete toolctl
`);

const ZSH = shell(String.raw`#compdef toolctl
# toolctl completion for zsh.
# Load it in this shell (after compinit):   source <(toolctl completion zsh)
# Or for every shell:   toolctl completion zsh > "@{fpath[1]}/_toolctl"   (a directory in $fpath)
_toolctl() {
    local prog=@{words[1]}
    if [[ $prog != */* ]] && (( ! $+commands[$prog] )); then prog=toolctl; fi
    local out
    out=$("$prog" __complete "@{(@)words[2,CURRENT]}" 2>/dev/null) || return 1
    local -a lines described
    lines=("@{(@f)out}")
    local directive=@{lines[1]}
    case $directive in
    *files*) _files; return ;;
    *dirs*) _files -/; return ;;
    esac
    local line value desc
    for line in "@{(@)lines[2,-1]}"; do
        [[ -z $line ]] && continue
        value=@{line%%$'\t'*}
        desc=@{line#*$'\t'}
        [[ $desc == $line ]] && desc=
        value=@{value//:/\\:}
        described+=("$value@{desc:+:$desc}")
    done
    if [[ $directive == *nospace* ]]; then
        _describe -t values toolctl described -S ''
    else
        _describe -t values toolctl described
    fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _toolctl "$@"
else
    compdef _toolctl toolctl
fi
`);

const FISH = shell(String.raw`# toolctl completion for fish.
# Load it in this shell:   toolctl completion fish | source
# Or for every shell:      toolctl completion fish > ~/.config/fish/completions/toolctl.fish
function __toolctl_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l prog $tokens[1]
    if not string match -q '*/*' -- $prog; and not command -q $prog
        set prog toolctl
    end
    # The tokens come unquoted, with ~ not yet expanded: quoted again for toolctl, which unquotes the words.
    set -l words
    for token in $tokens[2..-1]
        if string match -qr '^~(/|$)' -- $token
            set -l rest (string sub -s 2 -- $token)
            test -n "$rest"; and set rest (string escape -- $rest)
            set -a words "~$rest"
        else
            set -a words (string escape -- $token)
        end
    end
    set -l out ($prog __complete $words $current 2>/dev/null)
    or return
    switch "$out[1]"
        case '*files*'
            __fish_complete_path $current
            return
        case '*dirs*'
            __fish_complete_directories $current
            return
    end
    printf '%s\n' $out[2..-1]
end
complete -c toolctl -f -a '(__toolctl_complete)'
`);

export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;

export function completionScript(shell: (typeof COMPLETION_SHELLS)[number]): string {
  return shell === "bash" ? BASH : shell === "zsh" ? ZSH : FISH;
}
