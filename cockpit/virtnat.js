/*
 * virtnat's Cockpit page. Everything shown comes from virtnat's own JSON output, and every
 * change goes through virtnat's own commands (forward add / remove), run with
 * cockpit.spawn as the superuser: the page never reads or writes a file itself, and
 * virtnat's checks are the only checks.
 *
 *   virtnat status --json          networks, hosts, forwards (state, packets, bytes), drift
 *   virtnat vm list --json         VMs and their interfaces (when this virtnat has it)
 *   virtnat doctor --json          findings (when this virtnat has it; else status's drift)
 *   virtnat forward add|remove     the form and the remove buttons
 */
(function () {
    "use strict";

    const STATUS_INTERVAL_MS = 3000;   // forwards' counters: "updated live"
    const VMS_INTERVAL_MS = 10000;
    const DOCTOR_INTERVAL_MS = 15000;
    const VIEWS = ["forwards", "networks", "vms"];

    const state = {
        view: "forwards",
        status: null,
        statusError: null,
        statusRefreshes: 0,
        vms: null,
        vmsError: null,
        vmListAvailable: null,   // null = not asked yet
        doctor: null,
        doctorAvailable: null,
        pendingRemove: null,
        busy: false,
    };

    const $ = (id) => document.getElementById(id);

    // ------------------------------------------------------------------ running virtnat

    // Runs `virtnat ARGS...` as the superuser. Resolves with stdout; rejects with
    // { message: virtnat's stderr (one line for bad input), exitStatus, problem }.
    function virtnat(args) {
        return new Promise((resolve, reject) => {
            cockpit.spawn(["virtnat"].concat(args), { superuser: "require", err: "message" })
                .then((output) => resolve(output))
                .catch((ex, output) => {
                    const message = (ex && ex.message ? String(ex.message) : String(ex || "")).trim();
                    reject({
                        message: message || (ex && ex.problem) || "virtnat failed",
                        exitStatus: ex && ex.exit_status !== undefined ? ex.exit_status : null,
                        problem: (ex && ex.problem) || null,
                        output: output || "",
                    });
                });
        });
    }

    function virtnatJson(args) {
        return virtnat(args).then((output) => JSON.parse(output));
    }

    // virtnat answers an unknown command with exit status 2 and "unknown command ...".
    function isUnknownCommand(error) {
        return error && error.exitStatus === 2 && /unknown command|The following arguments were not expected/i.test(error.message);
    }

    // ------------------------------------------------------------------ small DOM helpers

    function el(tag, attributes, children) {
        const node = document.createElement(tag);
        for (const [key, value] of Object.entries(attributes || {})) {
            if (value === undefined || value === null || value === false) continue;
            if (key === "class") node.className = value;
            else if (key === "text") node.textContent = value;
            else if (key.startsWith("data-") || key === "title" || key === "role" || key.startsWith("aria-"))
                node.setAttribute(key, value);
            else node[key] = value;
        }
        for (const child of [].concat(children || [])) {
            if (child === null || child === undefined) continue;
            node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
        }
        return node;
    }

    function cell(content, attributes) {
        return el("td", attributes, typeof content === "string" || typeof content === "number" ? String(content) : content);
    }

    function show(id, visible) {
        $(id).hidden = !visible;
    }

    function setMessage(boxId, textId, text) {
        $(textId).textContent = text || "";
        show(boxId, !!text);
    }

    // Labels in the colours of PatternFly's: green ok, orange degraded, red broken, grey idle.
    function label(text, kind) {
        return el("span", { class: "vn-label vn-label-" + kind, text: text });
    }

    function stateKind(text) {
        const value = String(text || "");
        if (value === "active" || value === "up" || value === "running") return "green";
        if (value.startsWith("blocked") || value.startsWith("down") || value === "crashed" || value === "not installed")
            return "red";
        if (value.startsWith("degraded") || value === "paused" || value.startsWith("drift")) return "orange";
        if (value.startsWith("waiting")) return "blue";
        return "grey";
    }

    function formatBytes(bytes) {
        const value = Number(bytes) || 0;
        if (value < 1024) return value + " B";
        const units = ["KiB", "MiB", "GiB", "TiB"];
        let scaled = value;
        let unit = -1;
        while (scaled >= 1024 && unit < units.length - 1) {
            scaled /= 1024;
            unit++;
        }
        return scaled.toFixed(scaled < 10 ? 1 : 0) + " " + units[unit];
    }

    function replaceRows(tbody, rows) {
        while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
        for (const row of rows) tbody.appendChild(row);
    }

    // ------------------------------------------------------------------ views and tabs

    function currentView() {
        const path = cockpit.location.path;
        return path.length > 0 && VIEWS.includes(path[0]) ? path[0] : "forwards";
    }

    function showView() {
        state.view = currentView();
        for (const view of VIEWS) {
            $("view-" + view).hidden = view !== state.view;
            const tab = $("tab-" + view);
            tab.classList.toggle("vn-tab-active", view === state.view);
            tab.setAttribute("aria-selected", view === state.view ? "true" : "false");
        }
        document.body.setAttribute("data-view", state.view);
        if (state.view === "vms") refreshVms();
    }

    // ------------------------------------------------------------------ status

    let statusTimer = null;
    let statusInFlight = null;

    // One `status` at a time; a caller that changed something while one runs gets a fresh one
    // after it. Every answer re-arms the single timer.
    function refreshStatus() {
        if (statusInFlight) return statusInFlight.then(() => refreshStatus());
        window.clearTimeout(statusTimer);
        statusInFlight = virtnatJson(["status", "--json"])
            .then((status) => {
                state.status = status;
                state.statusError = null;
            })
            .catch((error) => {
                state.statusError = error.message || String(error);
            })
            .then(() => {
                statusInFlight = null;
                state.statusRefreshes++;
                renderStatus();
                window.clearTimeout(statusTimer);
                statusTimer = window.setTimeout(refreshStatus, STATUS_INTERVAL_MS);
            });
        return statusInFlight;
    }

    function renderStatus() {
        setMessage("load-error", "load-error-text", state.statusError);
        const status = state.status;
        const now = new Date();
        $("updated").textContent = state.statusError
            ? "update failed at " + now.toLocaleTimeString()
            : "updated " + now.toLocaleTimeString() + " · every " + STATUS_INTERVAL_MS / 1000 + " s";
        document.body.setAttribute("data-status-refreshes", String(state.statusRefreshes));
        if (!status) return;
        if (state.statusError) {
            $("health").hidden = true;   // what it said is no longer known
            return;
        }
        renderHealth();
        renderNetworks(status);
        renderForwards(status);
        renderHostNames(status);
    }

    // The firewall as a whole: doctor's findings when this virtnat has `doctor`, else the
    // table line of status (in sync / drift / not installed).
    function renderHealth() {
        const box = $("health");
        const list = $("health-list");
        while (list.firstChild) list.removeChild(list.firstChild);
        let title;
        let kind;
        if (state.statusError) return;
        if (state.doctorAvailable && state.doctor) {
            const findings = doctorFindings(state.doctor);
            if (findings.length === 0) {
                title = "virtnat doctor: no findings";
                kind = "success";
            } else {
                title = "virtnat doctor: " + findings.length + (findings.length === 1 ? " finding" : " findings");
                kind = findings.some((f) => /error|fail|critical|blocked/i.test(f.severity)) ? "danger" : "warning";
                for (const finding of findings)
                    list.appendChild(el("li", {}, [
                        finding.severity ? el("strong", { text: finding.severity + ": " }) : null,
                        finding.text,
                    ]));
            }
        } else {
            const table = (state.status && state.status.table) || {};
            const name = "table inet " + (table.name || "virtnat");
            if (!table.installed) {
                title = name + ": not installed (run virtnat apply)";
                kind = "danger";
            } else if (table.in_sync) {
                title = name + ": in sync with the config";
                kind = "success";
            } else {
                title = name + ": drift: " + (table.drift || "differs from the config") +
                    " (virtnat plan shows it, virtnat apply repairs it)";
                kind = "warning";
            }
        }
        $("health-title").textContent = title;
        box.className = "vn-alert vn-alert-" + kind;
        box.setAttribute("data-kind", kind);
        box.hidden = false;
    }

    // doctor's JSON shape is its own; accept {findings: [...]}, a list, and items that are
    // strings or objects with a message.
    function doctorFindings(doctor) {
        const items = Array.isArray(doctor) ? doctor : (doctor.findings || doctor.problems || doctor.checks || []);
        const findings = [];
        for (const item of items) {
            if (typeof item === "string") {
                findings.push({ severity: "", text: item });
                continue;
            }
            if (item.ok === true || item.status === "ok" || item.severity === "ok") continue;
            findings.push({
                severity: String(item.severity || item.level || item.status || item.verdict || ""),
                text: String(item.message || item.text || item.summary || item.finding || item.line || JSON.stringify(item)),
            });
        }
        return findings;
    }

    let doctorTimer = null;

    function refreshDoctor() {
        window.clearTimeout(doctorTimer);
        if (state.doctorAvailable === false) return;
        virtnatJson(["doctor", "--json"])
            .then((doctor) => {
                state.doctorAvailable = true;
                state.doctor = doctor;
            })
            .catch((error) => {
                if (isUnknownCommand(error)) {
                    state.doctorAvailable = false;   // an older virtnat: status's drift line
                } else if (error.output) {
                    // doctor exits non-zero when it has findings; its JSON is still on stdout
                    try {
                        state.doctor = JSON.parse(error.output);
                        state.doctorAvailable = true;
                    } catch (e) {
                        state.doctor = [{ severity: "error", message: error.message }];
                        state.doctorAvailable = true;
                    }
                } else {
                    state.doctor = [{ severity: "error", message: error.message }];
                    state.doctorAvailable = true;
                }
            })
            .then(() => {
                renderHealth();
                if (state.doctorAvailable) doctorTimer = window.setTimeout(refreshDoctor, DOCTOR_INTERVAL_MS);
            });
    }

    // ------------------------------------------------------------------ networks

    function renderNetworks(status) {
        const networks = status.networks || [];
        const rows = networks.map((network) => el("tr", { "data-network": network.name }, [
            cell(el("strong", { text: network.name }), { "data-label": "Name" }),
            cell(network.mode || "", { "data-label": "Mode" }),
            cell(network.provider || "", { "data-label": "Provider" }),
            cell(network.bridge || "", { "data-label": "Bridge", class: "vn-mono" }),
            cell(network.address || "—", { "data-label": "Address", class: "vn-mono" }),
            cell(network.domain || "", { "data-label": "Domain" }),
            cell(String((network.hosts || []).length), { "data-label": "Hosts", class: "vn-num" }),
            cell(label(network.state || "unknown", stateKind(network.state)), { "data-label": "State" }),
        ]));
        replaceRows($("networks-table").tBodies[0], rows);
        show("networks-empty", networks.length === 0);
        $("networks-count").textContent = networks.length + (networks.length === 1 ? " network" : " networks");

        const hostRows = [];
        for (const network of networks)
            for (const host of network.hosts || [])
                hostRows.push(el("tr", { "data-host": host.name }, [
                    cell(network.name, { "data-label": "Network" }),
                    cell(host.name, { "data-label": "Name" }),
                    cell(host.fqdn || "", { "data-label": "FQDN" }),
                    cell(host.address || "", { "data-label": "Address", class: "vn-mono" }),
                    cell(host.mac || "", { "data-label": "MAC", class: "vn-mono" }),
                ]));
        replaceRows($("hosts-table").tBodies[0], hostRows);
    }

    function renderHostNames(status) {
        const list = $("host-names");
        while (list.firstChild) list.removeChild(list.firstChild);
        for (const network of status.networks || [])
            for (const host of network.hosts || [])
                list.appendChild(el("option", { value: host.name, label: host.address + " (" + network.name + ")" }));
    }

    // ------------------------------------------------------------------ forwards

    function forwardKey(forward) {
        return [forward.protocol, forward.listen, forward.port].join(" ");
    }

    // Who may connect: "WORLD" stands out, as in `virtnat status`.
    function openTo(forward) {
        const sources = forward.source || [];
        return sources.length === 0 ? "WORLD" : sources.join(", ");
    }

    function forwardState(forward, table) {
        if (table && table.installed === false) return "not installed";
        return forward.state || (forward.active ? "active" : "inactive");
    }

    function describeForward(forward) {
        const target = forward.host ? forward.host + " (" + forward.target + ")" : forward.target;
        return forward.protocol + " " + forward.listen + ":" + forward.port + " → " + target + ":" + forward.to_port;
    }

    function renderForwards(status) {
        const forwards = status.forwards || [];
        const rows = forwards.map((forward) => {
            const stateText = forwardState(forward, status.table);
            const stateCell = [label(stateText, stateKind(stateText))];
            // status --json: blocked_by lists the rules of other tables that drop the forward.
            const blockedBy = Array.isArray(forward.blocked_by)
                ? forward.blocked_by.map((f) => f.ruleset + " " + f.chain + ": " + f.rule).join("; ")
                : forward.blocked_by;
            const reason = blockedBy || forward.reason || forward.detail;
            if (reason) stateCell.push(el("div", { class: "vn-muted vn-small", text: String(reason) }));
            const target = forward.host
                ? el("span", {}, [el("strong", { text: forward.host }), " ", el("span", { class: "vn-muted vn-mono", text: forward.target })])
                : el("span", { class: "vn-mono", text: forward.target });
            const where = (forward.file || "") + (forward.line ? ":" + forward.line : "");
            const remove = el("button", {
                type: "button",
                class: "vn-btn vn-btn-secondary-danger vn-btn-small vn-remove",
                text: "Remove",
                title: "virtnat forward remove (written in " + where + ")",
                "aria-label": "Remove " + describeForward(forward),
            });
            remove.addEventListener("click", () => askRemove(forward));
            const world = openTo(forward) === "WORLD";
            return el("tr", { "data-forward": forwardKey(forward), "data-state": stateText }, [
                cell(forward.protocol, { "data-label": "Protocol", "data-col": "protocol" }),
                cell(forward.listen, { "data-label": "Listen", "data-col": "listen", class: "vn-mono" }),
                cell(String(forward.port), { "data-label": "Port", "data-col": "port", class: "vn-mono" }),
                cell(target, { "data-label": "Target", "data-col": "target" }),
                cell(String(forward.to_port), { "data-label": "To port", "data-col": "to_port", class: "vn-mono" }),
                cell(world ? label("WORLD", "orange") : openTo(forward), { "data-label": "Open to", "data-col": "open_to", class: "vn-mono" }),
                cell(stateCell, { "data-label": "State", "data-col": "state" }),
                cell(String(forward.packets || 0), { "data-label": "Packets", "data-col": "packets", class: "vn-num" }),
                cell(formatBytes(forward.bytes), { "data-label": "Bytes", "data-col": "bytes", class: "vn-num", title: String(forward.bytes || 0) + " bytes", "data-bytes": String(forward.bytes || 0) }),
                cell(forward.description || "", { "data-label": "Description", "data-col": "description" }),
                cell(remove, { class: "vn-actions" }),
            ]);
        });
        replaceRows($("forwards-table").tBodies[0], rows);
        show("forwards-empty", forwards.length === 0);
        const active = forwards.filter((f) => forwardState(f, status.table) === "active").length;
        $("forwards-count").textContent = forwards.length + (forwards.length === 1 ? " forward" : " forwards") +
            ", " + active + " active";
    }

    // ------------------------------------------------------------------ add

    // virtnat names the argument it refuses ("virtnat: forward add: PUBLICPORT: ...", or
    // "public port '0' is not ..."): the message goes beside that field.
    function fieldForMessage(message) {
        const text = String(message);
        const named = /forward (?:add|remove): (HOST|PORT|PUBLICPORT|--protocol|--listen|--source|--description):/.exec(text);
        if (named) return named[1];
        if (/public ports? /.test(text)) return "PUBLICPORT";
        if (/guest ports? /.test(text)) return "PORT";
        if (/is not HOST:PORT|is not a host name|no host /.test(text)) return "HOST";
        for (const argument of ["--protocol", "--listen", "--source", "--description"])
            if (text.includes(argument)) return argument;
        return null;
    }

    function clearFieldErrors() {
        for (const field of document.querySelectorAll("#add-form .vn-field")) {
            field.classList.remove("vn-field-invalid");
            const error = field.querySelector(".vn-field-error");
            error.textContent = "";
            error.hidden = true;
        }
    }

    // Options as --name=value and the two positionals after "--": whatever an admin types
    // (a description starting with "-", say) stays the value it was meant to be.
    function addArguments() {
        const value = (id) => $(id).value.trim();
        const args = ["forward", "add", "--protocol=" + $("add-protocol").value];
        if (value("add-listen")) args.push("--listen=" + value("add-listen"));
        for (const source of value("add-source").split(/[\s,]+/).filter((s) => s.length > 0))
            args.push("--source=" + source);
        if (value("add-description")) args.push("--description=" + value("add-description"));
        args.push("--", value("add-host") + ":" + value("add-to-port"), value("add-port"));
        return args;
    }

    function shellWord(word) {
        return /^[A-Za-z0-9_./:,=@-]+$/.test(word) ? word : "'" + word.replace(/'/g, "'\\''") + "'";
    }

    function submitAdd(event) {
        event.preventDefault();
        if (state.busy) return;
        clearFieldErrors();
        setMessage("add-error", "add-error-text", "");
        setMessage("add-result", "add-result-text", "");
        const args = addArguments();
        $("add-command").textContent = "virtnat " + args.map(shellWord).join(" ");
        state.busy = true;
        $("add-submit").disabled = true;
        document.body.setAttribute("data-add", "running");
        let outcome = "failed";
        virtnat(args)
            .then((output) => {
                setMessage("add-result", "add-result-text", output.trim() || "added");
                $("add-form").reset();
                outcome = "done";
            })
            .catch((error) => {
                const message = error.message;
                const argument = fieldForMessage(message);
                const field = argument && document.querySelector('#add-form .vn-field[data-argument="' + argument + '"]');
                if (field) {
                    field.classList.add("vn-field-invalid");
                    const box = field.querySelector(".vn-field-error");
                    box.textContent = message;
                    box.hidden = false;
                }
                // The whole message beside the form too, with the exit status (2 = bad input,
                // nothing changed).
                const note = error.exitStatus === 2 ? "\n(exit status 2: bad input, nothing changed)"
                    : error.exitStatus !== null ? "\n(exit status " + error.exitStatus + ")" : "";
                setMessage("add-error", "add-error-text", message + note);
            })
            .then(() => {
                state.busy = false;
                $("add-submit").disabled = false;
                return refreshStatus();
            })
            // "done" once the table below shows virtnat's new status
            .then(() => document.body.setAttribute("data-add", outcome));
    }

    // ------------------------------------------------------------------ remove

    // The same spec as `forward remove`: HOST:TO_PORT PUBLICPORT --protocol --listen.
    function removeArguments(forward) {
        const guest = forward.host ? forward.host : forward.target;
        return ["forward", "remove", "--protocol=" + forward.protocol, "--listen=" + forward.listen,
            "--", guest + ":" + forward.to_port, String(forward.port)];
    }

    function askRemove(forward) {
        state.pendingRemove = forward;
        $("confirm-text").textContent = describeForward(forward) +
            (forward.description ? " (" + forward.description + ")" : "");
        setMessage("confirm-error", "confirm-error-text", "");
        $("confirm-remove").disabled = false;
        show("confirm", true);
        $("confirm-cancel").focus();
    }

    function closeConfirm() {
        state.pendingRemove = null;
        show("confirm", false);
    }

    function confirmRemove() {
        const forward = state.pendingRemove;
        if (!forward) return;
        $("confirm-remove").disabled = true;
        document.body.setAttribute("data-remove", "running");
        let outcome = "failed";
        virtnat(removeArguments(forward))
            .then(() => {
                closeConfirm();
                setMessage("remove-error", "remove-error-text", "");
                outcome = "done";
            })
            .catch((error) => {
                setMessage("confirm-error", "confirm-error-text", error.message);
                $("confirm-remove").disabled = false;
            })
            .then(() => refreshStatus())
            .then(() => document.body.setAttribute("data-remove", outcome));
    }

    // ------------------------------------------------------------------ VMs

    let vmsTimer = null;

    // The guide's words for libvirt's interface types.
    const INTERFACE_TYPES = {
        network: "Virtual network",
        bridge: "Bridge to LAN",
        direct: "Direct attachment",
        user: "Usermode networking",
        hostdev: "PCI device",
        vhostuser: "vhost-user",
        ethernet: "Generic ethernet",
        mcast: "Multicast tunnel",
        server: "TCP server",
        client: "TCP client",
        udp: "UDP tunnel",
        vdpa: "vDPA",
    };

    let vmsInFlight = null;

    function refreshVms() {
        window.clearTimeout(vmsTimer);
        if (state.vmListAvailable === false) return Promise.resolve(renderVms());
        if (vmsInFlight) return vmsInFlight.then(() => refreshVms());
        document.body.setAttribute("data-vms", "loading");   // the rows stay until the answer
        vmsInFlight = virtnatJson(["vm", "list", "--json"])
            .then((vms) => {
                state.vmListAvailable = true;
                state.vms = vms;
                state.vmsError = null;
            })
            .catch((error) => {
                if (isUnknownCommand(error)) {
                    state.vmListAvailable = false;
                    state.vmsError = "This virtnat has no `vm list` command: update virtnat to see the VMs' interfaces.";
                } else {
                    state.vmsError = error.message;
                }
            })
            .then(() => {
                vmsInFlight = null;
                renderVms();
                window.clearTimeout(vmsTimer);
                if (state.vmListAvailable !== false && state.view === "vms")
                    vmsTimer = window.setTimeout(refreshVms, VMS_INTERVAL_MS);
            });
        return vmsInFlight;
    }

    function renderVms() {
        setMessage("vms-error", "vms-error-text", state.vmsError);
        const vms = Array.isArray(state.vms) ? state.vms : (state.vms && state.vms.vms) || [];
        const rows = [];
        for (const vm of vms) {
            const interfaces = vm.interfaces && vm.interfaces.length > 0 ? vm.interfaces : [null];
            interfaces.forEach((nic, index) => {
                const cells = [];
                if (index === 0) {
                    cells.push(cell(el("strong", { text: vm.name }), { rowSpan: interfaces.length, "data-label": "VM", class: "vn-vm" }));
                    cells.push(cell(label(vm.state || "unknown", stateKind(vm.state)), { rowSpan: interfaces.length, "data-label": "State", class: "vn-vm" }));
                }
                if (!nic) {
                    cells.push(el("td", { colSpan: 7, class: "vn-muted", text: "no network interfaces" }));
                } else {
                    const addresses = nic.addresses || [];
                    const ip = addresses.length > 0
                        ? addresses.join(", ")
                        : (nic.host_address ? nic.host_address : "");
                    const ipCell = addresses.length > 0
                        ? el("span", { class: "vn-mono", text: ip })
                        : nic.host_address
                            ? el("span", { class: "vn-mono vn-muted", text: nic.host_address, title: "no lease: the address the config gives " + (nic.host || "this host") })
                            : el("span", { class: "vn-muted", text: "—" });
                    if (addresses.length === 0 && nic.host_address)
                        ipCell.appendChild(el("span", { class: "vn-small vn-muted", text: " (config)" }));
                    const type = INTERFACE_TYPES[nic.type] || nic.type || "";
                    const source = nic.source || "";
                    cells.push(cell(el("span", { title: nic.type || "", text: type }), { "data-label": "Type", "data-col": "type" }));
                    cells.push(cell(nic.model || "", { "data-label": "Model", "data-col": "model" }));
                    cells.push(cell(nic.mac || "", { "data-label": "MAC address", "data-col": "mac", class: "vn-mono" }));
                    cells.push(cell(ipCell, { "data-label": "IP address", "data-col": "ip", "data-addresses": addresses.join(" ") }));
                    cells.push(cell(source ? (nic.source_type ? nic.source_type + " " : "") + source : "", { "data-label": "Source", "data-col": "source" }));
                    cells.push(cell(nic.target || "", { "data-label": "Device", "data-col": "target", class: "vn-mono" }));
                    cells.push(cell(nic.host ? el("span", {}, [el("strong", { text: nic.host }), nic.network ? el("span", { class: "vn-muted", text: " · " + nic.network }) : null]) : el("span", { class: "vn-muted", text: "—" }),
                        { "data-label": "virtnat host", "data-col": "host" }));
                }
                rows.push(el("tr", { "data-vm": vm.name, "data-mac": nic ? nic.mac || "" : "", class: index === 0 ? "vn-first" : "vn-more" }, cells));
            });
        }
        replaceRows($("vms-table").tBodies[0], rows);
        show("vms-empty", state.vmListAvailable !== false && !state.vmsError && vms.length === 0 && state.vms !== null);
        const nics = vms.reduce((n, vm) => n + (vm.interfaces || []).length, 0);
        $("vms-count").textContent = state.vms === null ? "" :
            vms.length + (vms.length === 1 ? " VM, " : " VMs, ") + nics + (nics === 1 ? " interface" : " interfaces");
        document.body.setAttribute("data-vms", state.vmListAvailable === false ? "unavailable" : state.vmsError ? "error" : state.vms ? "loaded" : "loading");
    }

    // ------------------------------------------------------------------ start

    function init() {
        for (const view of VIEWS)
            $("tab-" + view).addEventListener("click", () => cockpit.location.go([view]));
        cockpit.addEventListener("locationchanged", showView);
        $("add-form").addEventListener("submit", submitAdd);
        // Editing a field takes virtnat's complaint about it away (the next submit asks again).
        $("add-form").addEventListener("input", (event) => {
            const field = event.target.closest(".vn-field");
            if (!field) return;
            field.classList.remove("vn-field-invalid");
            field.querySelector(".vn-field-error").hidden = true;
        });
        $("confirm-remove").addEventListener("click", confirmRemove);
        $("confirm-cancel").addEventListener("click", closeConfirm);
        document.addEventListener("keydown", (event) => {
            if (event.key === "Escape" && !$("confirm").hidden) closeConfirm();
        });
        showView();
        refreshStatus();
        refreshDoctor();
    }

    if (document.readyState === "loading")
        document.addEventListener("DOMContentLoaded", init);
    else
        init();
}());
