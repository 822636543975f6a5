# bench/report.awk: turns bench/run's raw lines (WORKDIR/results.txt) into
# RESULTS.md.  Each measurement repeated REPS times is shown as the median
# of its repetitions (the machine is shared: medians, not means).
# Variables: quick (0/1), sizes ("1 1000 ..."), par_users.

function kv(line, key,    m) {
	if (match(line, "(^| )" key "=[^ ]*")) {
		m = substr(line, RSTART, RLENGTH)
		sub(/^ /, "", m)
		return substr(m, length(key) + 2)
	}
	return ""
}

function add(key, field, value,    n) {
	n = ++count[key, field]
	vals[key, field, n] = value + 0
}

# add() for each FIELD=NAME of list: the value of NAME= in line.
function add_all(key, line, list,    n, i, F, fv) {
	n = split(list, F, " ")
	for (i = 1; i <= n; i++) {
		split(F[i], fv, "=")
		add(key, fv[1], kv(line, fv[2]))
	}
}

function med(key, field,    n, i, j, t, a) {
	n = count[key, field]
	if (n == 0)
		return ""
	for (i = 1; i <= n; i++)
		a[i] = vals[key, field, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

function us(x) {
	if (x == "")
		return "–"
	if (x >= 10000)
		return sprintf("%.1f ms", x / 1000)
	if (x >= 1000)
		return sprintf("%.2f ms", x / 1000)
	return sprintf("%.0f µs", x)
}

function num(x) {
	return x == "" ? "–" : sprintf("%.0f", x)
}

function ratio(a, b) {
	if (a == "" || b == "" || b <= 0)
		return "–"
	return sprintf("%.2f×", a / b)
}

function users_word(n) {
	return users_fmt(n) (n == 1 ? " user" : " users")
}

function name(m) {
	return m == "mfa" ? "pam_mfa" : m == "ga" ? "pam_google_authenticator" : \
	       m == "oath" ? "pam_oath" : m == "permit" ? "pam_permit (baseline)" : m
}

function users_fmt(n,    s, r) {
	s = n ""
	r = ""
	while (length(s) > 3) {
		r = "," substr(s, length(s) - 2) r
		s = substr(s, 1, length(s) - 3)
	}
	return s r
}

# The net cost of a module: its median minus pam_permit's, same size and
# variant.
function net(label, n, field,    b, v) {
	v = med("seq|" label "|" n "|1", field)
	b = med("seq|" (label ~ /\+loaded$/ ? "permit+loaded" : "permit") "|" n "|1", field)
	if (v == "" || b == "")
		return ""
	return v - b
}

# Repetition i of a module's net median: paired with pam_permit's run of
# the same repetition, so that a slow spell of the machine falls on both.
# Runs are paired by the repetition number bench/run logs with each, not
# by their order: a run that printed nothing must not shift the pairs.
function rep_net(label, n, i,    k, b) {
	k = "seq|" label "|" n "|1"
	b = "seq|" (label ~ /\+loaded$/ ? "permit+loaded" : "permit") "|" n "|1"
	if (!((k, i) in by_rep) || !((b, i) in by_rep))
		return ""
	return by_rep[k, i] - by_rep[b, i]
}

# The net cost of a module in the interleaved runs: its median minus
# pam_permit's, both taken from the same runs.
function alt_net(label, n, field,    v, b) {
	v = med("alt|" label "|" n, field)
	b = med("alt|permit|" n, field)
	if (v == "" || b == "")
		return ""
	return v - b
}

# The range, over the repetitions, of a's net median over b's.
function rep_range(a, b, n,    i, x, y, r, lo, hi) {
	lo = ""; hi = ""
	for (i = 1; i <= max_rep; i++) {
		x = rep_net(a, n, i); y = rep_net(b, n, i)
		if (x == "" || y == "" || y <= 0)
			continue
		r = x / y
		if (lo == "" || r < lo) lo = r
		if (hi == "" || r > hi) hi = r
	}
	return lo == "" ? "–" : sprintf("%.2f–%.2f", lo, hi)
}

/^meta / {
	k = kv($0, "key")
	v = $0
	sub(/^meta key=[^ ]* value=/, "", v)
	meta[k] = v
	next
}

/^mode=/ {
	mode = kv($0, "mode")
	if (mode == "seq" || mode == "par" || mode == "nss") {
		key = mode "|" kv($0, "label") "|" kv($0, "users") "|" kv($0, "workers")
		add_all(key, $0, "median=median_us p99=p99_us cpu=cpu_us tput=throughput")
		if (kv($0, "rep") != "") {
			r = kv($0, "rep") + 0
			by_rep[key, r] = kv($0, "median_us") + 0
			if (r > max_rep)
				max_rep = r
		}
		logins[key] += kv($0, "logins")
		fails[key] += kv($0, "fail")
	} else if (mode == "alt") {
		key = "alt|" kv($0, "label") "|" kv($0, "users")
		add_all(key, $0, "median=median_us cpu=cpu_us")
		logins[key] += kv($0, "logins")
		fails[key] += kv($0, "fail")
	} else if (mode == "altphase") {
		add_all("alt|" kv($0, "label") "|" kv($0, "users"), $0,
			"start=start_median_us auth=auth_median_us end=end_median_us")
	} else if (mode == "altpair") {
		add_all("altpair|" kv($0, "a") "|" kv($0, "b") "|" kv($0, "users"), $0,
			"diff=median_diff_us p25=p25_diff_us p75=p75_diff_us share=a_faster_share")
	} else if (mode == "race") {
		key = kv($0, "label") "|" kv($0, "workers")
		race[key] = kv($0, "successes")
		raceres[key] = kv($0, "result")
		racerounds[key] = kv($0, "rounds")
	} else if (mode == "status") {
		n = kv($0, "users")
		status_sizes = status_sizes " " n
		st_wall[n] = kv($0, "wall_s")
		st_rss[n] = kv($0, "maxrss_kb")
		st_rows[n] = kv($0, "rows")
		st_exit[n] = kv($0, "exit")
		st_timeout[n] = kv($0, "timeout_s")
		st_user[n] = kv($0, "user_s")
		st_sys[n] = kv($0, "sys_s")
	} else if (mode == "import") {
		n = kv($0, "users")
		imp_wall[n] = kv($0, "wall_s")
		imp_rss[n] = kv($0, "maxrss_kb")
	}
}

END {
	ns = split(sizes, S, " ")
	nm = split("mfa ga oath permit", M, " ")

	print "# pam_mfa login benchmark: results"
	print ""
	print "Written by `bench/run` (see `bench/README.md` for what is measured and"
	print "how); rerun it to regenerate this file." \
	      (quick ? " **This is a `--quick` run: small sizes, few logins; indicative only.**" : "")
	print ""
	print "| | |"
	print "|---|---|"
	print "| command | `" meta["command"] "` (as root) |"
	print "| date | " meta["date"] " |"
	print "| pam_mfa | " meta["rev"] " |"
	print "| CPU | " meta["cpu"] " |"
	print "| kernel | " meta["kernel"] " |"
	print "| state, secrets, usersfile | " meta["workdir"] " on " meta["disk"] " |"
	print "| packages | " meta["versions"] " |"
	print "| load average (1, 5, 15 min) | at start " meta["load_start"] ", at end " meta["load_end"] " |"
	print ""
	print "The machine is shared with other engineers' builds (2 cores), so every"
	print "figure is the median over repetitions, and p99 is noisier than the median."
	print "Each login is `pam_start_confdir` + `pam_authenticate` + `pam_end` with"
	print "a valid code; a stack of `auth required MODULE` alone; logs go to a"
	print "discarding `/dev/log`; accounts come from nss_wrapper."
	print ""

	print "## Per login, one at a time: module loaded at each login (as in sshd)"
	print ""
	print "An sshd connection, `su`, `sudo` and `login` are each a process that"
	print "loads the PAM modules afresh: this is the cost a login pays."
	print "\"net\" is the module's median minus the pam_permit stack's."
	print ""
	print "| users | module | logins | median | p99 | CPU (user+sys) | net median | net CPU |"
	print "|---:|---|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= ns; i++)
		for (j = 1; j <= nm; j++) {
			key = "seq|" M[j] "|" S[i] "|1"
			if (!(key in logins))
				continue
			print "| " users_fmt(S[i]) " | " name(M[j]) " | " logins[key] \
			      (fails[key] ? " (**" fails[key] " failed**)" : "") \
			      " | " us(med(key, "median")) " | " us(med(key, "p99")) " | " \
			      us(med(key, "cpu")) " | " (M[j] == "permit" ? "" : us(net(M[j], S[i], "median"))) \
			      " | " (M[j] == "permit" ? "" : us(net(M[j], S[i], "cpu"))) " |"
		}
	print ""

	print "## Per login, one at a time: module kept loaded"
	print ""
	print "The same, with the module held open by the harness (`dlopen` with"
	print "`RTLD_NODELETE`), as in a long-lived process: the difference to the table"
	print "above is the cost of loading the module and its libraries."
	print ""
	print "| users | module | median | p99 | CPU | net median | net CPU | load cost (median) |"
	print "|---:|---|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= ns; i++)
		for (j = 1; j <= nm; j++) {
			key = "seq|" M[j] "+loaded|" S[i] "|1"
			cold = "seq|" M[j] "|" S[i] "|1"
			if (!(key in logins))
				continue
			lc = (med(cold, "median") != "" ? med(cold, "median") - med(key, "median") : "")
			print "| " users_fmt(S[i]) " | " name(M[j]) \
			      (fails[key] ? " (**" fails[key] " failed**)" : "") " | " \
			      us(med(key, "median")) " | " us(med(key, "p99")) " | " us(med(key, "cpu")) \
			      " | " (M[j] == "permit" ? "" : us(net(M[j] "+loaded", S[i], "median"))) \
			      " | " (M[j] == "permit" ? "" : us(net(M[j] "+loaded", S[i], "cpu"))) \
			      " | " us(lc) " |"
		}
	print ""

	print "## Account lookup alone"
	print ""
	print "`getpwnam_r` + `getgrouplist` of a random enrolled user through the same"
	print "nss_wrapper files, without PAM: what NSS costs at each size (pam_mfa looks"
	print "the user up at every login; the peers do not look up the user)."
	print ""
	print "| users | median | p99 |"
	print "|---:|---:|---:|"
	for (i = 1; i <= ns; i++) {
		key = "nss|nss|" S[i] "|1"
		if (key in logins)
			print "| " users_fmt(S[i]) " | " us(med(key, "median")) " | " us(med(key, "p99")) " |"
	}
	print ""

	print "## pam_mfa against the peers"
	print ""
	print "Net median per login (minus pam_permit), pam_mfa ÷ peer: below 1× pam_mfa"
	print "is faster.  \"Range\" is the lowest and highest of the same ratio taken"
	print "within each repetition alone: how far the noise of the machine moves it."
	print ""
	print "| users | pam_mfa ÷ google-authenticator | range | pam_mfa ÷ pam_oath | kept loaded: ÷ google-authenticator | kept loaded: ÷ pam_oath |"
	print "|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= ns; i++)
		print "| " users_fmt(S[i]) " | " ratio(net("mfa", S[i], "median"), net("ga", S[i], "median")) \
		      " | " rep_range("mfa", "ga", S[i]) \
		      " | " ratio(net("mfa", S[i], "median"), net("oath", S[i], "median")) \
		      " | " ratio(net("mfa+loaded", S[i], "median"), net("ga+loaded", S[i], "median")) \
		      " | " ratio(net("mfa+loaded", S[i], "median"), net("oath+loaded", S[i], "median")) " |"
	print ""

	print "## Interleaved: pam_mfa, google-authenticator and pam_permit in turn"
	print ""
	print "The comparison that matters most, measured a second way: one process logs"
	print "in with the three stacks in turn, login by login, the same user at the same"
	print "moment for each (their states are apart), each round starting with the next"
	print "stack; the modules are loaded at each login.  The load of the machine drifts"
	print "over seconds, and here it falls on all three alike, which the separate runs"
	print "above cannot promise.  \"Paired difference\" is pam_mfa's login time minus"
	print "google-authenticator's in the same round: within each repetition, the"
	print "median over its rounds (and the quartiles in brackets), then the median"
	print "of that over the repetitions; below zero pam_mfa is faster.  \"Faster in\""
	print "is, likewise, the median over the repetitions of the share of rounds"
	print "pam_mfa won."
	print ""
	print "| users | rounds | pam_mfa net | google-authenticator net | ratio | paired difference | pam_mfa faster in | net CPU: pam_mfa | google-authenticator | ratio |"
	print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= ns; i++) {
		key = "alt|mfa|" S[i]
		pk = "altpair|mfa|ga|" S[i]
		if (!(key in logins))
			continue
		am = alt_net("mfa", S[i], "median"); ag = alt_net("ga", S[i], "median")
		cm = alt_net("mfa", S[i], "cpu"); cg = alt_net("ga", S[i], "cpu")
		nf = fails[key] + fails["alt|ga|" S[i]] + fails["alt|permit|" S[i]]
		print "| " users_fmt(S[i]) " | " logins[key] (nf ? " (**" nf " failed**)" : "") \
		      " | " us(am) " | " us(ag) " | " ratio(am, ag) " | " \
		      (count[pk, "diff"] ? sprintf("%+.0f µs (%+.0f to %+.0f)", med(pk, "diff"), \
						   med(pk, "p25"), med(pk, "p75")) : "–") \
		      " | " (count[pk, "share"] ? sprintf("%.0f%%", 100 * med(pk, "share")) " of rounds" : "–") " | " \
		      us(cm) " | " us(cg) " | " ratio(cm, cg) " |"
	}
	print ""

	if (count["alt|mfa|" S[1], "start"] > 0) {
		print "The same logins by phase (median of each): `pam_start` reads the stack"
		print "and loads the module and its libraries, `pam_end` unloads them.  sshd"
		print "starts PAM as the connection opens and ends it as the session closes: a"
		print "user who has typed a code waits for part of `pam_authenticate` (it holds"
		print "the whole conversation, the prompt included), never for the other two."
		print ""
		print "| users | module | pam_start | pam_authenticate | pam_end |"
		print "|---:|---|---:|---:|---:|"
		for (i = 1; i <= ns; i++)
			for (j = 1; j <= nm; j++) {
				key = "alt|" M[j] "|" S[i]
				if (count[key, "start"] == 0)
					continue
				print "| " users_fmt(S[i]) " | " name(M[j]) " | " us(med(key, "start")) \
				      " | " us(med(key, "auth")) " | " us(med(key, "end")) " |"
			}
		print ""
	}

	print "## Parallel logins (" users_fmt(par_users) " users)"
	print ""
	print "W worker processes (forked, as sshd forks one per connection) log in"
	print "distinct users, each once, starting together; the module is loaded at each"
	print "login.  Throughput is successful logins over the wall time of the batch; CPU is"
	print "user+sys per login summed over the workers."
	print ""
	print "| module | workers | logins | logins/s | median | p99 | CPU per login |"
	print "|---|---:|---:|---:|---:|---:|---:|"
	for (j = 1; j <= nm; j++)
		for (wk = 1; wk <= 1024; wk *= 2) {
			key = "par|" M[j] "|" par_users "|" wk
			if (!(key in logins))
				continue
			print "| " name(M[j]) " | " wk " | " logins[key] \
			      (fails[key] ? " (**" fails[key] " failed**)" : "") " | " \
			      num(med(key, "tput")) " | " us(med(key, "median")) " | " us(med(key, "p99")) \
			      " | " us(med(key, "cpu")) " |"
		}
	for (wk = 1; wk <= 1024; wk *= 2)
		if (fails["par|oath|" par_users "|" wk])
			oath_par_failed = 1
	if (oath_par_failed) {
		print ""
		print "pam_oath's failed logins are those that found another login holding its"
		print "lock: liboath creates `USERSFILE.lock` with `O_EXCL` and fails the login at"
		print "once if it exists, so two users logging in at the same moment can fail."
	}
	print ""

	print "## Races: W workers, one user, one code"
	print ""
	print "Each round, W processes with their PAM handles ready wait at a barrier,"
	print "then all present the same valid code for the same user.  A module that"
	print "refuses replays must let exactly one through: PASS when every round had"
	print "exactly one success."
	print ""
	print "| module | workers | successes per round | result |"
	print "|---|---:|---|---|"
	split("mfa ga oath", R, " ")
	for (j = 1; j <= 3; j++)
		for (wk = 1; wk <= 1024; wk *= 2) {
			key = R[j] "|" wk
			if (key in race)
				print "| " name(R[j]) " | " wk " | " race[key] " | " \
				      (raceres[key] == "PASS" ? "PASS" : "**FAIL**") " |"
		}
	print ""

	print "## mfactl status --json"
	print ""
	print "Wall time and peak memory (`/usr/bin/time`'s maximum resident set size)"
	print "of `mfactl status --json` over every account, output to a file."
	print ""
	print "| users | wall | max RSS | user CPU | sys CPU | rows |"
	print "|---:|---:|---:|---:|---:|---:|"
	nst = split(status_sizes, SS, " ")
	for (i = 1; i <= nst; i++) {
		n = SS[i]
		if (st_exit[n] == "timeout")
			print "| " users_fmt(n) " | **over " st_timeout[n] " s (stopped)** | – | – | – | " st_rows[n] " so far |"
		else
			print "| " users_fmt(n) " | " st_wall[n] " s | " sprintf("%.1f MB", st_rss[n] / 1024) \
			      " | " st_user[n] " s | " st_sys[n] " s | " st_rows[n] \
			      (st_exit[n] != "0" ? " (exit " st_exit[n] ")" : "") " |"
	}
	print ""
	print "Provisioning, `mfactl import --from oath USERSFILE` (into an empty store):"
	print ""
	print "| users | wall | max RSS |"
	print "|---:|---:|---:|"
	for (i = 1; i <= ns; i++)
		if (S[i] in imp_wall)
			print "| " users_fmt(S[i]) " | " imp_wall[S[i]] " s | " \
			      sprintf("%.1f MB", imp_rss[S[i]] / 1024) " |"
	print ""

	print "## Targets"
	print ""
	print "| target | measured | met? |"
	print "|---|---|---|"
	# Flat: the dearest size against the cheapest, over every size run.
	lo = ""; hi = ""; llo = ""; lhi = ""
	for (i = 1; i <= ns; i++) {
		v = net("mfa", S[i], "median")
		if (v != "" && (lo == "" || v < net("mfa", lo, "median"))) lo = S[i]
		if (v != "" && (hi == "" || v > net("mfa", hi, "median"))) hi = S[i]
		v = net("mfa+loaded", S[i], "median")
		if (v != "" && (llo == "" || v < net("mfa+loaded", llo, "median"))) llo = S[i]
		if (v != "" && (lhi == "" || v > net("mfa+loaded", lhi, "median"))) lhi = S[i]
	}
	if (lo != "") {
		a = net("mfa", lo, "median"); b = net("mfa", hi, "median")
		print "| per-login cost flat from " users_fmt(S[1]) " to " users_fmt(S[ns]) \
		      " users (within 1.2×) | net median from " us(a) " (" users_word(lo) ") to " \
		      us(b) " (" users_word(hi) "): " ratio(b, a) "; module kept loaded: " \
		      us(net("mfa+loaded", llo, "median")) " (" users_word(llo) ") to " \
		      us(net("mfa+loaded", lhi, "median")) " (" users_word(lhi) "): " \
		      ratio(net("mfa+loaded", lhi, "median"), net("mfa+loaded", llo, "median")) " | " \
		      (a > 0 && b / a <= 1.2 ? "yes" : "**no**") " |"
	}
	# Judged on the interleaved runs, which pair each login with the
	# other module's at the same moment; the separate runs are shown too.
	worst = ""; wsize = ""; sworst = ""; ssize = ""
	for (i = 1; i <= ns; i++) {
		a = alt_net("mfa", S[i], "median"); b = alt_net("ga", S[i], "median")
		if (a != "" && b != "" && b > 0 && (worst == "" || a / b > worst)) {
			worst = a / b; wsize = S[i]
		}
		a = net("mfa", S[i], "median"); b = net("ga", S[i], "median")
		if (a != "" && b != "" && b > 0 && (sworst == "" || a / b > sworst)) {
			sworst = a / b; ssize = S[i]
		}
	}
	if (worst != "")
		print "| no slower than pam_google_authenticator per login | interleaved, worst: pam_mfa " \
		      sprintf("%.2f×", worst) " google-authenticator's net median, at " \
		      users_word(wsize) (sworst != "" ? "; separate runs, worst: " sprintf("%.2f×", sworst) \
		      " at " users_word(ssize) : "") " | " (worst <= 1 ? "yes" : "**no**") " |"
	else if (sworst != "")
		print "| no slower than pam_google_authenticator per login | worst: pam_mfa " \
		      sprintf("%.2f×", sworst) " google-authenticator's net median, at " \
		      users_word(ssize) " | " (sworst <= 1 ? "yes" : "**no**") " |"
	a = net("mfa", 10000, "median"); b = net("oath", 10000, "median")
	if (a != "" && b != "" && a > 0)
		print "| at least 10× faster than pam_oath at 10,000 users | pam_oath's net median is " \
		      sprintf("%.1f×", b / a) " pam_mfa's | " (b / a >= 10 ? "yes" : "**no**") " |"
	else
		print "| at least 10× faster than pam_oath at 10,000 users | not measured in this run | – |"
	if (100000 in st_exit) {
		if (st_exit[100000] == "timeout")
			print "| `mfactl status` over 100,000 users under 1 s and 100 MB | did not finish in " \
			      st_timeout[100000] " s | **no** |"
		else
			print "| `mfactl status` over 100,000 users under 1 s and 100 MB | " st_wall[100000] \
			      " s, " sprintf("%.1f MB", st_rss[100000] / 1024) " | " \
			      (st_wall[100000] + 0 < 1 && st_rss[100000] + 0 < 100 * 1024 && \
			       st_exit[100000] == "0" ? \
			       "yes" : "**no**") " |"
	} else
		print "| `mfactl status` over 100,000 users under 1 s and 100 MB | not measured in this run | – |"
	print ""

	# Against google-authenticator, a login splits into loading the module
	# (cold minus kept loaded) and the login's own work (kept loaded).
	print "## pam_mfa against google-authenticator: loading and work"
	print ""
	print "A login with the module loaded at each login is loading it (the median"
	print "with the module loaded each time, minus the median with it kept loaded)"
	print "plus the login's own work (the net median with it kept loaded).  pam_mfa"
	print "loads liboath and libconfig besides itself; google-authenticator needs no"
	print "library but libpam and libc.  Negative: pam_mfa costs less."
	print ""
	print "| users | loading: pam_mfa − google-authenticator | work: pam_mfa − google-authenticator | total |"
	print "|---:|---:|---:|---:|"
	for (i = 1; i <= ns; i++) {
		mc = med("seq|mfa|" S[i] "|1", "median"); mk = med("seq|mfa+loaded|" S[i] "|1", "median")
		gc = med("seq|ga|" S[i] "|1", "median"); gk = med("seq|ga+loaded|" S[i] "|1", "median")
		c = net("mfa+loaded", S[i], "median"); d = net("ga+loaded", S[i], "median")
		if (mc == "" || mk == "" || gc == "" || gk == "" || c == "" || d == "")
			continue
		a = mc - mk
		b = gc - gk
		print "| " users_fmt(S[i]) " | " sprintf("%+.0f µs", a - b) " | " \
		      sprintf("%+.0f µs", c - d) " | " sprintf("%+.0f µs", a - b + c - d) " |"
	}
	print ""
}
