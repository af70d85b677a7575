# bash completion of hyperpool(1): options, commands, and module and function names, which
# come from the daemon (`hyperpool --json modules`); with no daemon they complete to nothing.

# The --json modules answer, one module a line: NAME","path":...,"functions":[...],...
# (the daemon writes name first; names and functions are plain words).
_hyperpool_modules_lines()
{
    local out
    out=$("${_hyperpool_cmd[@]}" --json modules 2>/dev/null) || return 0
    printf '%s\n' "${out//'{"name":"'/$'\n'}" | tail -n +2
}

_hyperpool_module_names()
{
    local line
    while IFS= read -r line; do
        printf '%s\n' "${line%%\"*}"
    done < <(_hyperpool_modules_lines)
}

_hyperpool_function_names()
{
    local line fns
    local -a names
    while IFS= read -r line; do
        [[ ${line%%\"*} == "$1" ]] || continue
        fns=${line#*\"functions\":[}
        fns=${fns%%]*}
        fns=${fns//\"/}
        IFS=, read -ra names <<<"$fns"
        printf '%s\n' "${names[@]}"
    done < <(_hyperpool_modules_lines)
}

_hyperpool()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local globals="--socket --timeout --json --help --version"
    local commands="call modules stats ping load unload reload"
    local i cmd= cmd_at=0
    # hyperpool itself, with the --socket given so far: the names come from that daemon
    # (bash's dynamic scope shows this local to the helpers above).
    local -a _hyperpool_cmd=("${COMP_WORDS[0]:-hyperpool}")
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        --socket|-s) _hyperpool_cmd+=(--socket "${COMP_WORDS[i+1]}"); ((i++)) ;;
        --socket=*) _hyperpool_cmd+=("${COMP_WORDS[i]}") ;;
        --timeout|-t) ((i++)) ;;
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; cmd_at=$i; break ;;
        esac
    done

    if [[ -z $cmd ]]; then
        case $prev in
        --socket|-s) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        --timeout|-t) COMPREPLY=(); return 0 ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$globals" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return 0
    fi

    # The operand being completed: 1 for the first after the command (options skipped).
    local n=0
    for ((i = cmd_at + 1; i <= COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == -* && $n -eq 0 && $i -lt $COMP_CWORD ]] && continue
        ((n++))
    done
    if [[ $cur == -* && $n -le 1 ]]; then
        case $cmd in
        stats) COMPREPLY=($(compgen -W "--help --json --prometheus" -- "$cur")) ;;
        modules|ping) COMPREPLY=($(compgen -W "--help --json" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "--help" -- "$cur")) ;;
        esac
        return 0
    fi
    case $cmd:$n in
    call:1|unload:1)
        COMPREPLY=($(compgen -W "$(_hyperpool_module_names)" -- "$cur")) ;;
    call:2)
        COMPREPLY=($(compgen -W "$(_hyperpool_function_names "${COMP_WORDS[COMP_CWORD-1]}")" -- "$cur")) ;;
    call:*)
        [[ $n -eq 3 ]] && COMPREPLY=($(compgen -W "-" -- "$cur")) || COMPREPLY=() ;;
    load:2)
        COMPREPLY=($(compgen -f -- "$cur")) ;;
    load:*)
        COMPREPLY=($(compgen -W "pool_min= pool_max= queue= timeout_ms= input_size= output_size= heap_size= stack_size= restore= allow_users= allow_groups= host_functions= max_hypercalls= max_host_calls= max_host_call_bytes= max_log_bytes=" -- "$cur"))
        compopt -o nospace 2>/dev/null ;;
    *)
        COMPREPLY=() ;;
    esac
    return 0
}

complete -F _hyperpool hyperpool
