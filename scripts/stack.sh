# Pieces of a mail stack on loopback, shared by scripts/demo and bench/soak:
# Redis, unbound, slapd, spamd, a ClamAV test database and private Postfix
# instances wired with the shipped etc/postfix snippets. Sourced, not run.
#
# The caller sets `run` (the directory that holds configs, logs, pid files and
# the Postfix instances) and runs from the source tree's root. Every daemon
# started here writes its pid to $run/NAME.pid so that stack_stop stops
# exactly those processes.

postfix_dirs() { for d in "$run"/postfix-*; do [ -d "$d" ] && echo "$d"; done; }

# Pids of one private Postfix instance: its daemons run with the private
# queue directory as their working directory, so this finds exactly ours.
postfix_pids() {  # INSTANCE_DIR
  local p
  for p in /proc/[0-9]*; do [ "$(readlink "$p/cwd" 2>/dev/null)" = "$1/queue" ] && basename "$p"; done
  return 0
}

stack_stop() {  # LABEL
  local label=$1 d f pid pids
  [ -d "$run" ] || { echo "$label: nothing running"; return 0; }
  for d in $(postfix_dirs); do
    if [ -f "$d/queue/pid/master.pid" ]; then
      postfix -c "$d/etc" stop >/dev/null 2>&1 && echo "$label: stopped Postfix $(basename "$d")"
    fi
    # Children of a master that is gone: by pid, never by name.
    for _ in $(seq 50); do
      pids=$(postfix_pids "$d")
      [ -z "$pids" ] && break
      sleep 0.1
    done
    [ -n "${pids:-}" ] && kill -9 $pids 2>/dev/null || true
  done
  for f in "$run"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      # A stopped process (slapd under SIGSTOP) must run again to see SIGTERM.
      kill -CONT "$pid" 2>/dev/null || true
      kill "$pid" && echo "$label: stopped $(basename "$f" .pid) (pid $pid)"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$f"
  done
}

wait_tcp() {  # PORT [HOST]
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on ${2:-127.0.0.1}:$1" >&2
  return 1
}

start_redis() {  # PORT
  redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$run" \
    --daemonize no >>"$run/redis.log" 2>&1 &
  echo $! >"$run/redis.pid"
  for _ in $(seq 100); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
}

# unbound answering only the local zones given on stdin (unbound.conf
# `local-zone:`/`local-data:` lines), refusing everything else.
start_unbound() {  # PORT < ZONE_LINES
  mkdir -p "$run/unbound"
  {
    cat <<CONF
server:
  interface: 127.0.0.1@$1
  port: $1
  do-daemonize: no
  use-syslog: no
  logfile: ""
  chroot: ""
  username: ""
  directory: "$run/unbound"
  pidfile: "$run/unbound/unbound.pid"
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "." refuse
CONF
    sed 's/^/  /'
    printf 'remote-control:\n  control-enable: no\n'
  } >"$run/unbound/unbound.conf"
  unbound -d -c "$run/unbound/unbound.conf" >"$run/unbound/unbound.log" 2>&1 &
  echo $! >"$run/unbound.pid"
}

# slapd for dc=example,dc=demo with the entries given on stdin (LDIF).
start_slapd() {  # PORT < LDIF
  mkdir -p "$run/slapd/db"
  cat >"$run/slapd/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/misc.schema
pidfile $run/slapd/slapd.pid
argsfile $run/slapd/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "dc=example,dc=demo"
rootdn "cn=admin,dc=example,dc=demo"
directory $run/slapd/db
access to * by * read
CONF
  cat >"$run/slapd/data.ldif"
  slapadd -f "$run/slapd/slapd.conf" -l "$run/slapd/data.ldif" >"$run/slapd/slapadd.log" 2>&1
  slapd -f "$run/slapd/slapd.conf" -h "ldap://127.0.0.1:$1/" -d 256 >"$run/slapd/slapd.log" 2>&1 &
  echo $! >"$run/slapd.pid"
}

start_spamd() {  # PORT
  mkdir -p "$run/spamassassin/site" "$run/spamassassin/users"
  local f
  for f in /etc/spamassassin/*.pre; do
    [ "$(basename "$f")" = sa-compile.pre ] || cp "$f" "$run/spamassassin/site/"
  done
  printf 'required_score 5\nbayes_auto_learn 0\nuse_bayes 0\n' >"$run/spamassassin/site/local.cf"
  chown -R nobody:nogroup "$run/spamassassin/users"
  /usr/sbin/spamd --listen "127.0.0.1:$1" --local --username nobody --nouser-config \
    --virtual-config-dir="$run/spamassassin/users/%u" --siteconfigpath "$run/spamassassin/site" \
    --syslog stderr --max-children 3 --min-children 1 --allow-tell >>"$run/spamassassin/spamd.log" 2>&1 &
  echo $! >"$run/spamd.pid"
}

# spamd takes seconds to load its rules: ready is a PONG, not a TCP accept.
wait_spamd() {  # PORT
  for _ in $(seq 600); do
    printf 'PING SPAMC/1.5\r\n\r\n' | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; cat >&3; cat <&3" 2>/dev/null | grep -q PONG && return 0
    sleep 0.2
  done
  echo "spamd on :$1 does not answer PING" >&2
  return 1
}

# A ClamAV test database (nothing can be downloaded here): EICAR and clam.exe.
make_clamav_db() {
  mkdir -p "$run/clamav"
  local eicar_hex=58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a
  echo "Eicar-Test-Signature:0:*:$eicar_hex" >"$run/clamav/eicar.ndb"
  sigtool --md5 /usr/share/clamav-testfiles/clam.exe >"$run/clamav/test.hdb"
}

# A private Postfix: NAME HOSTNAME ADDRESS PORT DOMAINS EXTRA_MAIN EXTRA_MASTER SMTPD_OPTIONS...
# MAILBOX_MAPS (default: every address of DOMAINS to one Maildir, inbox/) and
# the retry timing (QUEUE_RUN_DELAY, MINIMAL_BACKOFF, MAXIMAL_BACKOFF) may be
# set in the environment.
make_postfix() {
  local name=$1 host=$2 address=$3 port=$4 domains=$5 extra_main=$6 extra_master=$7
  shift 7
  local d=$run/postfix-$name
  mkdir -p "$d/etc" "$d/queue" "$d/data" "$d/mail"
  chown postfix "$d/data"; chmod 700 "$d/data"
  chown nobody "$d/mail"; chmod 700 "$d/mail"
  cat >"$d/etc/main.cf" <<CONF
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $d/maillog
maillog_file_prefixes = $d
syslog_name = postfix-$name
myhostname = $host
myorigin = \$myhostname
mydestination =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
virtual_mailbox_domains = $domains
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = ${MAILBOX_MAPS:-static:inbox/}
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
default_transport = virtual
smtpd_error_sleep_time = 0s
queue_run_delay = ${QUEUE_RUN_DELAY:-1s}
minimal_backoff_time = ${MINIMAL_BACKOFF:-1s}
maximal_backoff_time = ${MAXIMAL_BACKOFF:-2s}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
$extra_main
CONF
  {
    echo "$address:$port inet n - n - - smtpd"
    for o in "$@"; do echo "  -o $o"; done
    cat <<'MASTER'
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
smtp       unix  - - n - - smtp
relay      unix  - - n - - smtp
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
local      unix  - n n - - local
virtual    unix  - n n - - virtual
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
MASTER
    printf '%s\n' "$extra_master"
  } >"$d/etc/master.cf"
  touch -d '1 minute ago' "$d/etc/main.cf" "$d/etc/master.cf"
  postfix -c "$d/etc" check >/dev/null 2>&1 || true
  postfix -c "$d/etc" start >/dev/null
}

# The shipped etc/postfix snippets with this MX's ports.
policy_restrictions() {  # PORT
  sed -n '/^smtpd_recipient_restrictions/,/^smtpd_data_restrictions/p' etc/postfix/main.cf.policyd |
    sed '$d' | sed "s/127.0.0.1:10040/127.0.0.1:$1/"
  sed -n '/^smtpd_data_restrictions/,$p' etc/postfix/main.cf.policyd | sed "s/127.0.0.1:10040/127.0.0.1:$1/"
}
filter_options() {  # FILTER_PORT: the port-25 smtpd's -o options
  sed -n '/^smtp /,/^[^ ]/p' etc/postfix/master.cf.filter | grep -- '-o ' |
    sed -e 's/^ *-o //' -e "s/127.0.0.1:10025/127.0.0.1:$1/"
}
after_filter_service() {  # AFTER_PORT
  sed -n '/^127.0.0.1:10026/,$p' etc/postfix/master.cf.filter | sed "s/127.0.0.1:10026/127.0.0.1:$1/"
}
