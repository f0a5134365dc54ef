/// The pages' own templates (rendered inside `LayoutTemplate.layout`).
enum PageTemplates {
    static let overview = #"""
        <h1>Overview</h1>
        <div class="grid">
        {{#tenants}}
          <section class="card" aria-labelledby="tenant-{{id}}">
            <h2 id="tenant-{{id}}"><a href="/t/{{id}}/devices">{{id}}</a></h2>
            <p><span class="figure">{{connected}}</span> connected of {{total}} devices</p>
            <p class="muted">Host name {{hostName}} · your role: {{role}}</p>
          </section>
        {{/tenants}}
        </div>
        <h2>Recent authentication failures</h2>
        {{#canSeeFailures}}
        <table>
          <caption class="muted">Devices and people refused in the last 24 hours (newest first)</caption>
          <thead><tr><th scope="col">Time</th><th scope="col">Tenant</th><th scope="col">Who</th>
            <th scope="col">From</th><th scope="col">Reason</th><th scope="col">Reference</th></tr></thead>
          <tbody>
          {{#failures}}<tr><td>{{at}}</td><td>{{tenant}}</td><td>{{actor}}</td><td>{{sourceIP}}</td><td>{{reason}}</td>
            <td>{{referenceID}}</td></tr>{{/failures}}
          {{^failures}}<tr><td colspan="6">None.</td></tr>{{/failures}}
          </tbody>
        </table>
        {{/canSeeFailures}}
        {{^canSeeFailures}}<p class="muted">Your roles do not include reading the audit log.</p>{{/canSeeFailures}}
        <h2>Alerts</h2>
        <table id="alerts">
          <caption class="muted">Open and acknowledged, newest first (docs/defender.md)</caption>
          <thead><tr><th scope="col">Severity</th><th scope="col">Status</th><th scope="col">Rule</th>
            <th scope="col">Subject</th><th scope="col">Summary</th><th scope="col">Count</th>
            <th scope="col">Last seen</th><th scope="col"><span class="skip">Actions</span></th></tr></thead>
          <tbody>
          {{#alerts}}<tr><td>{{severity}}</td><td>{{status}}</td><td>{{rule}}</td><td>{{subject}}</td>
            <td>{{summary}}</td><td>{{count}}</td><td>{{lastSeen}}</td><td>{{#canManageAlerts}}{{#isOpen}}<form
              class="inline" method="post" action="/alerts/{{id}}/acknowledge"><input type="hidden" name="_csrf"
              value="{{csrf}}"><button type="submit" class="plain">Acknowledge</button></form>{{/isOpen}}<form
              class="inline" method="post" action="/alerts/{{id}}/resolve"><input type="hidden" name="_csrf"
              value="{{csrf}}"><button type="submit" class="plain">Resolve</button></form>{{/canManageAlerts}}</td>
            </tr>{{/alerts}}
          {{^alerts}}<tr><td colspan="8">No alerts.</td></tr>{{/alerts}}
          </tbody>
        </table>
        """#

    static let security = #"""
        <h1>Security of {{tenant}}</h1>
        <p class="muted">Posture against the NIST Cybersecurity Framework 2.0, {{generatedAt}}; {{openAlerts}} open alerts;
          audit findings: {{findings}}. This page prints as a report.</p>
        <table id="functions">
          <caption class="muted">Each function's tier (1 Partial, 2 Risk informed, 3 Repeatable, 4 Adaptive) from the
            categories below, beside the target the tenant's rules document sets</caption>
          <thead><tr><th scope="col">Function</th><th scope="col">Tier</th><th scope="col">Target</th>
            <th scope="col">Gap</th></tr></thead>
          <tbody>
          {{#functions}}<tr><td>{{name}} ({{id}})</td><td>{{tier}}</td><td>{{target}}</td>
            <td>{{#short}}<span class="status bad">{{gap}} below</span>{{/short}}{{^short}}<span class="status good">on target</span>{{/short}}</td></tr>{{/functions}}
          </tbody>
        </table>
        <table id="categories">
          <thead><tr><th scope="col">Category</th><th scope="col">State</th><th scope="col">Evidence</th></tr></thead>
          <tbody>
          {{#categories}}<tr><td>{{id}} {{name}}</td><td class="state-{{state}}">{{state}}</td><td>{{evidence}}</td></tr>{{/categories}}
          </tbody>
        </table>
        <h2>The last 24 hours</h2>
        <div class="charts">
          {{#charts}}<figure class="chart {{tone}}"><figcaption>{{title}}: {{total}}</figcaption>{{{svg}}}</figure>{{/charts}}
        </div>
        <h2>Alerts</h2>
        <table id="tenant-alerts">
          <caption class="muted">Every alert of the tenant, newest first</caption>
          <thead><tr><th scope="col">Severity</th><th scope="col">Status</th><th scope="col">Rule</th>
            <th scope="col">Subject</th><th scope="col">Summary</th><th scope="col">Count</th>
            <th scope="col">Last seen</th><th scope="col"><span class="skip">Actions</span></th></tr></thead>
          <tbody>
          {{#alerts}}<tr><td>{{severity}}</td><td>{{status}}</td><td>{{rule}}</td><td>{{subject}}</td>
            <td>{{summary}}</td><td>{{count}}</td><td>{{lastSeen}}</td><td>{{#canManage}}{{#isOpen}}<form
              class="inline" method="post" action="/t/{{tenant}}/alerts/{{id}}/acknowledge"><input type="hidden" name="_csrf"
              value="{{csrf}}"><button type="submit" class="plain">Acknowledge</button></form>{{/isOpen}}{{^isResolved}}<form
              class="inline" method="post" action="/t/{{tenant}}/alerts/{{id}}/resolve"><input type="hidden" name="_csrf"
              value="{{csrf}}"><button type="submit" class="plain">Resolve</button></form>{{/isResolved}}{{/canManage}}</td>
            </tr>{{/alerts}}
          {{^alerts}}<tr><td colspan="8">No alerts.</td></tr>{{/alerts}}
          </tbody>
        </table>
        """#

    static let inventory = #"""
        <h1>Inventory of {{tenant}}</h1>
        <p><a href="/t/{{tenant}}/inventory.csv" download>Download as CSV</a></p>
        <table>
          <caption class="muted">{{summary}}</caption>
          <thead><tr><th scope="col">Device</th><th scope="col">Authentication</th><th scope="col">Last connected</th>
            <th scope="col">From</th><th scope="col">TLS</th><th scope="col">Client</th>
            <th scope="col">Certificate expires</th><th scope="col">Flows</th><th scope="col">Quarantine</th></tr></thead>
          <tbody>
          {{#devices}}<tr><td><a href="/t/{{tenant}}/devices/{{deviceId}}">{{deviceId}}</a>
            {{#statusDisabled}}<span class="status off">disabled</span>{{/statusDisabled}}</td>
            <td>{{authentication}}</td><td>{{lastConnected}}</td><td>{{address}} {{protocol}}</td>
            <td>{{tlsVersion}} {{cipherSuite}}</td><td>{{clientLibrary}}</td><td>{{certificateExpires}}</td>
            <td>{{flowsText}}</td><td>{{#quarantine}}<span class="status bad">{{quarantine}}</span>{{/quarantine}}</td></tr>{{/devices}}
          {{^devices}}<tr><td colspan="9">No devices.</td></tr>{{/devices}}
          </tbody>
        </table>
        """#

    static let devices = #"""
        <h1>Devices in {{tenant}}</h1>
        <form class="row" method="get" action="/t/{{tenant}}/devices" role="search">
          <label>Search by id <input name="q" value="{{query}}" type="search"></label>
          <button type="submit" class="plain">Search</button>
        </form>
        <table>
          <caption class="muted">{{summary}}</caption>
          <thead><tr><th scope="col">Device</th><th scope="col">Status</th><th scope="col">Connected</th>
            <th scope="col">Authentication</th><th scope="col">Last activity</th></tr></thead>
          <tbody>
          {{#devices}}<tr><td><a href="/t/{{tenant}}/devices/{{id}}">{{id}}</a></td>
            <td><span class="status {{statusClass}}">{{status}}</span></td>
            <td>{{#connected}}<span class="status good">connected</span>{{/connected}}{{^connected}}<span class="status off">offline</span>{{/connected}}</td>
            <td>{{authentication}}</td><td>{{lastActivity}}</td></tr>{{/devices}}
          {{^devices}}<tr><td colspan="5">No devices{{#query}} match “{{query}}”{{/query}}.</td></tr>{{/devices}}
          </tbody>
        </table>
        {{#canCreate}}
        <h2>Create a device</h2>
        <form class="row card" method="post" action="/t/{{tenant}}/devices">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <label>Device id <input name="deviceId" required maxlength="128"></label>
          <button type="submit">Create device</button>
        </form>
        {{/canCreate}}
        """#

    static let device = #"""
        <h1>Device {{id}} <span class="status {{statusClass}}">{{status}}</span>
          {{#connected}}<span class="status good">connected</span>{{/connected}}{{^connected}}<span class="status off">offline</span>{{/connected}}</h1>
        {{#connectionString}}
        <div class="card">
          <h2>New connection string</h2>
          <p>Shown once: copy it to the device now.</p>
          <p class="secret" id="connection-string">{{connectionString}}</p>
          <button type="button" class="plain" data-copy="connection-string">Copy</button>
        </div>
        {{/connectionString}}
        <div class="card">
          <table>
            <caption>Identity</caption>
            <tbody>
              <tr><th scope="row">Tenant</th><td>{{tenant}}</td></tr>
              <tr><th scope="row">Authentication</th><td>{{authentication}}</td></tr>
              <tr><th scope="row">Status reason</th><td>{{statusReason}}</td></tr>
              <tr><th scope="row">Status changed</th><td>{{statusUpdatedAt}}</td></tr>
              <tr><th scope="row">Created</th><td>{{createdAt}}</td></tr>
            </tbody>
          </table>
        </div>
        {{#canControl}}
        <div class="card">
          <h2>{{#enabled}}Disable{{/enabled}}{{^enabled}}Enable{{/enabled}} the device</h2>
          <form class="row" method="post" action="/t/{{tenant}}/devices/{{id}}/status"
            {{#enabled}}data-confirm="Disable {{id}}? Its connections end at once."{{/enabled}}>
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <input type="hidden" name="status" value="{{#enabled}}disabled{{/enabled}}{{^enabled}}enabled{{/enabled}}">
            <label>Reason <input name="reason" maxlength="128" {{#enabled}}required{{/enabled}}></label>
            <button type="submit" {{#enabled}}class="danger"{{/enabled}}>{{#enabled}}Disable{{/enabled}}{{^enabled}}Enable{{/enabled}}</button>
          </form>
        </div>
        <div class="card">
          <h2>Send a cloud-to-device message</h2>
          <form class="stack" method="post" action="/t/{{tenant}}/devices/{{id}}/c2d">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <label for="c2d-body">Message</label>
            <textarea id="c2d-body" name="body" required maxlength="65536"></textarea>
            <p><button type="submit">Send</button> <span class="muted">{{queued}} waiting in the queue</span></p>
          </form>
        </div>
        {{/canControl}}
        {{#canRotate}}
        <div class="card">
          <h2>Credentials</h2>
          <form class="row" method="post" action="/t/{{tenant}}/devices/{{id}}/keys"
            data-confirm="Rotate the primary key of {{id}}? The device must use the new connection string.">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <button type="submit" class="danger">Rotate the primary key</button>
          </form>
        </div>
        {{/canRotate}}
        <h2>Recent telemetry</h2>
        <table>
          <caption class="muted">The last 20 messages of the past day, newest first</caption>
          <thead><tr><th scope="col">#</th><th scope="col">Enqueued</th><th scope="col">Properties</th>
            <th scope="col">Body</th></tr></thead>
          <tbody>
          {{#telemetry}}<tr><td>{{sequence}}</td><td>{{at}}</td><td>{{properties}}</td><td><code>{{body}}</code></td></tr>{{/telemetry}}
          {{^telemetry}}<tr><td colspan="4">No messages.</td></tr>{{/telemetry}}
          </tbody>
        </table>
        <h2>Twin</h2>
        <pre aria-label="Device twin">{{twin}}</pre>
        """#

    static let tenants = #"""
        <h1>Tenants</h1>
        <table>
          <thead><tr><th scope="col">Tenant</th><th scope="col">Host name</th><th scope="col">Devices</th>
            <th scope="col">Created</th></tr></thead>
          <tbody>{{#tenants}}<tr><td><a href="/t/{{id}}/devices">{{id}}</a></td><td>{{hostName}}</td><td>{{total}}</td>
            <td>{{createdAt}}</td></tr>{{/tenants}}</tbody>
        </table>
        {{#canCreate}}
        <h2>Create a tenant</h2>
        <form class="row card" method="post" action="/tenants">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <label>Tenant id <input name="tenantId" required pattern="[a-z0-9-]{1,63}"></label>
          <button type="submit">Create tenant</button>
        </form>
        {{/canCreate}}
        """#

    static let users = #"""
        <h1>Users</h1>
        {{#password}}
        <div class="card"><h2>One-time password for {{createdName}}</h2>
          <p>Shown once. The user must choose a new password at the first sign-in.</p>
          <p class="secret" id="one-time-password">{{password}}</p>
          <button type="button" class="plain" data-copy="one-time-password">Copy</button></div>
        {{/password}}
        <table>
          <thead><tr><th scope="col">User</th><th scope="col">Roles</th><th scope="col">Second factor</th>
            <th scope="col">State</th><th scope="col"><span class="skip">Actions</span></th></tr></thead>
          <tbody>
          {{#users}}<tr><td>{{name}}{{#platformAdmin}} <span class="status good">platform admin</span>{{/platformAdmin}}</td>
            <td>{{roles}}</td><td>{{totp}}</td><td>{{#enabled}}enabled{{/enabled}}{{^enabled}}<span class="status bad">disabled</span>{{/enabled}}</td>
            <td>{{^isSelf}}<form class="inline" method="post" action="/users/{{name}}/status">
              <input type="hidden" name="_csrf" value="{{csrf}}">
              <input type="hidden" name="enabled" value="{{#enabled}}false{{/enabled}}{{^enabled}}true{{/enabled}}">
              <button type="submit" class="plain">{{#enabled}}Disable{{/enabled}}{{^enabled}}Enable{{/enabled}}</button>
            </form>{{/isSelf}}</td></tr>{{/users}}
          </tbody>
        </table>
        <h2>Create a user</h2>
        <form class="row card" method="post" action="/users">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <label>Username <input name="username" required maxlength="64"></label>
          <label>Tenant <select name="tenant">{{#tenantChoices}}<option>{{.}}</option>{{/tenantChoices}}</select></label>
          <label>Role <select name="role">{{#roleChoices}}<option>{{.}}</option>{{/roleChoices}}</select></label>
          <button type="submit">Create user</button>
        </form>
        """#

    static let roles = #"""
        <h1>Roles in {{tenant}}</h1>
        <table>
          <thead><tr><th scope="col">Who</th><th scope="col">Kind</th><th scope="col">Role</th></tr></thead>
          <tbody>{{#bindings}}<tr><td>{{name}}</td><td>{{kind}}</td><td>{{role}}</td></tr>{{/bindings}}</tbody>
        </table>
        <h2>Grant a role</h2>
        <form class="row card" method="post" action="/t/{{tenant}}/roles">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <label>Username or client id <input name="subject" required></label>
          <label>Role <select name="role">{{#roleChoices}}<option>{{.}}</option>{{/roleChoices}}<option value="none">none (remove)</option></select></label>
          <button type="submit">Save</button>
        </form>
        """#

    static let apiKeys = #"""
        <h1>API keys of {{tenant}}</h1>
        {{#secret}}
        <div class="card"><h2>New key “{{createdName}}”</h2><p>Shown once: store it now.</p>
          <p class="secret" id="api-key">{{secret}}</p>
          <button type="button" class="plain" data-copy="api-key">Copy</button></div>
        {{/secret}}
        <table>
          <thead><tr><th scope="col">Key</th><th scope="col">Name</th><th scope="col">Permissions</th>
            <th scope="col">Group</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">State</th>
            <th scope="col"><span class="skip">Actions</span></th></tr></thead>
          <tbody>{{#keys}}<tr><td>{{id}}</td><td>{{name}}</td><td>{{permissions}}</td><td>{{group}}</td><td>{{expires}}</td>
            <td>{{lastUsed}}</td><td>{{state}}</td><td>{{#active}}<form class="inline" method="post"
              action="/t/{{tenant}}/api-keys/{{id}}/revoke" data-confirm="Revoke {{name}}?">
              <input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" class="danger">Revoke</button>
            </form>{{/active}}</td></tr>{{/keys}}
          {{^keys}}<tr><td colspan="8">No keys.</td></tr>{{/keys}}</tbody>
        </table>
        <h2>Create a key</h2>
        <form class="stack card" method="post" action="/t/{{tenant}}/api-keys">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <label for="key-name">Name</label><input id="key-name" name="name" required maxlength="128">
          <fieldset><legend>Permissions</legend>
          {{#permissionChoices}}<label><input type="checkbox" name="permission.{{.}}" value="on"> {{.}}</label>{{/permissionChoices}}
          </fieldset>
          <label for="key-group">Only devices in group (optional)</label><input id="key-group" name="group">
          <label for="key-days">Expires after days (optional)</label><input id="key-days" name="days" inputmode="numeric">
          <p><button type="submit">Create key</button></p>
        </form>
        """#

    static let certificates = #"""
        <h1>Certificates of {{tenant}}</h1>
        {{#issuedPEM}}
        <div class="card" id="issued-certificate"><h2>Issued certificate {{issuedSerial}}</h2>
          <pre class="secret" id="certificate-pem">{{issuedPEM}}</pre>
          <button type="button" class="plain" data-copy="certificate-pem">Copy</button></div>
        {{/issuedPEM}}
        <h2>Certificate authorities</h2>
        <table id="authorities">
          <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Verified</th>
            <th scope="col">Revocation</th><th scope="col">Not valid after</th></tr></thead>
          <tbody>{{#authorities}}<tr><td>{{name}}</td><td>{{kind}}</td><td>{{verified}}</td><td>{{revocation}}</td>
            <td>{{notValidAfter}}</td></tr>{{/authorities}}
          {{^authorities}}<tr><td colspan="5">No certificate authorities.</td></tr>{{/authorities}}</tbody>
        </table>
        {{#canManage}}
        <form class="stack card" method="post" action="/t/{{tenant}}/certificates/authorities" id="create-ca">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <h3>Create an issuing CA</h3>
          <label for="ca-name">Name</label><input id="ca-name" name="name" required maxlength="64">
          <label for="ca-cn">Common name (optional)</label><input id="ca-cn" name="commonName" maxlength="64">
          <label for="ca-days">Valid for days</label><input id="ca-days" name="days" inputmode="numeric" value="3650">
          <p><button type="submit">Create CA</button></p>
        </form>
        {{/canManage}}
        <h2>Issued certificates</h2>
        <table id="certificates">
          <thead><tr><th scope="col">Serial</th><th scope="col">Device</th><th scope="col">CA</th>
            <th scope="col">Status</th><th scope="col">Not valid after</th>
            <th scope="col"><span class="skip">Actions</span></th></tr></thead>
          <tbody>{{#certificates}}<tr><td class="mono">{{serial}}</td><td>{{device}}</td><td>{{authority}}</td>
            <td>{{status}}</td><td>{{notValidAfter}}</td><td>{{#revocable}}<form class="inline" method="post"
              action="/t/{{tenant}}/certificates/{{serial}}/revoke" data-confirm="Revoke {{serial}}?">
              <input type="hidden" name="_csrf" value="{{csrf}}">
              <select name="reason" aria-label="Reason">{{#reasons}}<option>{{.}}</option>{{/reasons}}</select>
              <button type="submit" class="danger">Revoke</button></form>{{/revocable}}</td></tr>{{/certificates}}
          {{^certificates}}<tr><td colspan="6">No certificates issued.</td></tr>{{/certificates}}</tbody>
        </table>
        {{#more}}<p class="muted">The first 200 are shown: warden cert list shows all.</p>{{/more}}
        {{#canIssue}}
        <form class="stack card" method="post" action="/t/{{tenant}}/certificates" id="issue-certificate">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <h3>Issue a device certificate</h3>
          <label for="issue-ca">CA</label>
          <select id="issue-ca" name="ca">{{#issuing}}<option>{{.}}</option>{{/issuing}}</select>
          <label for="issue-device">Device id</label><input id="issue-device" name="device" required>
          <label for="issue-days">Valid for days (optional)</label><input id="issue-days" name="days" inputmode="numeric">
          <label for="issue-csr">Certificate signing request (PEM)</label>
          <textarea id="issue-csr" name="csr" rows="10" required></textarea>
          <p><button type="submit">Issue</button></p>
        </form>
        {{/canIssue}}
        """#

    static let provisioning = #"""
        <h1>Provisioning for {{tenant}}</h1>
        <p>Devices enrol themselves with the Azure SDKs' ProvisioningDeviceClient: ID scope
          <strong class="mono" id="id-scope">{{idScope}}</strong>, endpoint <span class="mono">{{endpoint}}</span>.</p>
        {{#createdName}}
        <div class="card" id="created-enrollment"><h2>Created {{createdName}}</h2>
          {{#createdPrimaryKey}}<p>Its keys are shown here once; a group's devices derive theirs from them.</p>
          <label for="primary-key">Primary key</label><pre class="secret" id="primary-key">{{createdPrimaryKey}}</pre>
          <button type="button" class="plain" data-copy="primary-key">Copy</button>
          <label for="secondary-key">Secondary key</label>
          <pre class="secret" id="secondary-key">{{createdSecondaryKey}}</pre>{{/createdPrimaryKey}}</div>
        {{/createdName}}
        <table id="enrollments">
          <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Attestation</th>
            <th scope="col">Status</th><th scope="col">Tenants</th><th scope="col">Allocation</th>
            <th scope="col">Reprovision</th><th scope="col"><span class="skip">Actions</span></th></tr></thead>
          <tbody>{{#enrollments}}<tr><td>{{name}}</td><td>{{kind}}</td><td>{{attestation}}</td><td>{{status}}</td>
            <td>{{tenants}}</td><td>{{allocation}}</td><td>{{reprovision}}</td><td>{{#canManage}}<form class="inline"
              method="post" action="/t/{{tenant}}/provisioning/{{collection}}/{{path}}/status">
              <input type="hidden" name="_csrf" value="{{csrf}}">
              {{#isEnabled}}<input type="hidden" name="status" value="disabled">
              <button type="submit" class="plain">Disable</button>{{/isEnabled}}
              {{^isEnabled}}<input type="hidden" name="status" value="enabled">
              <button type="submit" class="plain">Enable</button>{{/isEnabled}}</form>
              <form class="inline" method="post" action="/t/{{tenant}}/provisioning/{{collection}}/{{path}}/delete"
                data-confirm="Delete {{name}}? Devices it provisioned keep their keys.">
              <input type="hidden" name="_csrf" value="{{csrf}}">
              <button type="submit" class="danger">Delete</button></form>{{/canManage}}</td></tr>{{/enrollments}}
          {{^enrollments}}<tr><td colspan="8">No enrollments.</td></tr>{{/enrollments}}</tbody>
        </table>
        {{#canManage}}
        <form class="stack card" method="post" action="/t/{{tenant}}/provisioning" id="create-enrollment">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <h3>Create an enrollment</h3>
          <label for="enrollment-kind">Kind</label>
          <select id="enrollment-kind" name="kind"><option value="group">group (devices share a group key)</option>
            <option value="individual">individual (one registration id)</option></select>
          <label for="enrollment-name">Group name or registration id</label>
          <input id="enrollment-name" name="name" required maxlength="128">
          <label for="enrollment-attestation">Attestation</label>
          <select id="enrollment-attestation" name="attestation"><option>symmetric-key</option>
            {{#hasAuthorities}}<option>x509</option>{{/hasAuthorities}}</select>
          {{#hasAuthorities}}<label for="enrollment-ca">x509: the tenant CA certificates chain to</label>
          <select id="enrollment-ca" name="ca">{{#authorities}}<option>{{.}}</option>{{/authorities}}</select>
          {{/hasAuthorities}}
          <label for="enrollment-tenants">Assign to tenants (comma-separated; empty: this one)</label>
          <input id="enrollment-tenants" name="tenants">
          <label for="enrollment-allocation">Allocation</label>
          <select id="enrollment-allocation" name="allocation">{{#allocations}}<option>{{.}}</option>{{/allocations}}
          </select>
          <label for="enrollment-webhook">custom: allocation webhook URL</label>
          <input id="enrollment-webhook" name="webhook" type="url" maxlength="2048">
          <label for="enrollment-reprovision">When a device registers again</label>
          <select id="enrollment-reprovision" name="reprovision">{{#reprovisions}}<option>{{.}}</option>{{/reprovisions}}
          </select>
          <p><button type="submit">Create enrollment</button></p>
        </form>
        {{/canManage}}
        """#

    static let audit = #"""
        <h1>Audit log{{#tenant}} of {{tenant}}{{/tenant}}</h1>
        <form class="row" method="get" action="{{action}}" role="search">
          <label>Actor <input name="actor" value="{{actor}}"></label>
          <label>Action <input name="action" value="{{actionFilter}}"></label>
          <label>Outcome <select name="outcome"><option value="">any</option>
            {{#outcomes}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/outcomes}}</select></label>
          <button type="submit" class="plain">Filter</button>
        </form>
        <table>
          <caption class="muted">Newest first; every record is hash-chained.</caption>
          <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Tenant</th><th scope="col">Actor</th>
            <th scope="col">From</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th>
            <th scope="col">Details</th></tr></thead>
          <tbody>{{#records}}<tr><td>{{sequence}}</td><td>{{at}}</td><td>{{tenant}}</td><td>{{actor}}</td><td>{{sourceIP}}</td>
            <td>{{action}}</td><td>{{target}}</td><td>{{outcome}}{{#reason}} ({{reason}}){{/reason}}</td><td>{{details}}</td></tr>{{/records}}
          {{^records}}<tr><td colspan="9">No records.</td></tr>{{/records}}</tbody>
        </table>
        {{#next}}<p><a href="{{next}}">Older records</a></p>{{/next}}
        """#

    static let policy = #"""
        <h1>Authorization policy of {{tenant}}</h1>
        <p>Version {{version}} enforced ({{tolerance}}){{#triedVersion}}; version {{triedVersion}} tried, audit-only:
          its refusals are recorded, not enforced{{/triedVersion}}. Explicit deny wins, then allow; nothing applying
          is deny.</p>
        {{#unreadable}}<div class="notice error" role="alert">Every request is denied: {{unreadable}}</div>{{/unreadable}}
        {{#canManage}}
        <form class="stack card" method="post" action="/t/{{tenant}}/policy" id="policy-editor">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <input type="hidden" name="version" value="{{newest}}">
          {{#error}}<div class="notice error" role="alert">Not saved: {{error}}</div>{{/error}}
          <label for="document">Document (JSON; docs/policy.md)</label>
          <textarea id="document" name="document" class="document" spellcheck="false">{{document}}</textarea>
          <p><button type="submit">Save as a new version</button></p>
        </form>
        {{/canManage}}
        <h2>Try a request</h2>
        <form class="row card" method="get" action="/t/{{tenant}}/policy" role="search" id="policy-trial">
          <label>Device <input name="device" value="{{device}}" required maxlength="128"></label>
          <label>Action <select name="action">{{#actions}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/actions}}</select></label>
          <label>Topic <input name="topic" value="{{topic}}"></label>
          <label>Source address <input name="address" value="{{address}}"></label>
          <label>Time (ISO 8601) <input name="time" value="{{time}}"></label>
          <button type="submit" class="plain">Decide</button>
        </form>
        {{#answerError}}<div class="notice error" role="alert">{{answerError}}</div>{{/answerError}}
        {{#answer}}
        <div class="card" id="policy-answer">
          <p><span class="status {{#allowed}}good{{/allowed}}{{^allowed}}bad{{/allowed}}">{{decision}}</span> by {{statement}}</p>
          {{#reasons}}<p class="muted">{{.}}</p>{{/reasons}}
          {{#tried}}<p>Tried: {{tried}}</p>{{/tried}}
          <table><caption>Statements considered</caption>
            <thead><tr><th scope="col">Statement</th><th scope="col">Effect</th><th scope="col">Outcome</th><th scope="col">Why</th></tr></thead>
            <tbody>{{#considered}}<tr><td>{{statement}}</td><td>{{effect}}</td><td>{{outcome}}</td><td>{{why}}</td></tr>{{/considered}}
            {{^considered}}<tr><td colspan="4">No statement names this device and action.</td></tr>{{/considered}}</tbody>
          </table>
        </div>
        {{/answer}}
        {{#shown}}
        <h2>{{title}}</h2>
        {{#text}}<pre id="policy-shown">{{text}}</pre>{{/text}}
        {{#hasDiff}}<div class="diff" id="policy-diff">{{#diff}}<div class="{{kind}}">{{sign}} {{text}}</div>{{/diff}}</div>{{/hasDiff}}
        {{/shown}}
        <h2>Versions</h2>
        <table id="policy-versions">
          <thead><tr><th scope="col">Version</th><th scope="col">Author</th><th scope="col">Created</th>
            <th scope="col">Notes</th><th scope="col"></th></tr></thead>
          <tbody>{{#versions}}<tr><td>{{number}}</td><td>{{author}}</td><td>{{created}}</td>
            <td>{{#restoredFrom}}restores {{restoredFrom}}{{/restoredFrom}}{{#auditOnly}} audit-only{{/auditOnly}}</td>
            <td><a href="/t/{{tenant}}/policy?version={{number}}">Show</a>
              {{#previous}} · <a href="/t/{{tenant}}/policy?from={{previous}}&amp;diff={{number}}">Changes</a>{{/previous}}
              {{#canManage}}<form class="inline" method="post" action="/t/{{tenant}}/policy/rollback">
                <input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="version" value="{{number}}">
                <button type="submit" class="plain">Restore</button></form>{{/canManage}}</td></tr>{{/versions}}
          {{^versions}}<tr><td colspan="5">No document written: the shipped statements alone are in force.</td></tr>{{/versions}}</tbody>
        </table>
        <h2>Statements in force</h2>
        <table>
          <thead><tr><th scope="col">Statement</th><th scope="col">Effect</th><th scope="col">Actions</th>
            <th scope="col">Resources</th><th scope="col">Source</th></tr></thead>
          <tbody>{{#statements}}<tr><td>{{id}}</td><td>{{effect}}</td><td>{{actions}}</td><td>{{resources}}</td><td>{{source}}</td></tr>{{/statements}}</tbody>
        </table>
        """#

    static let account = #"""
        <h1>Your account</h1>
        {{#mustChange}}<div class="notice error" role="alert">Your password was generated: choose your own before anything else.</div>{{/mustChange}}
        <div class="card">
          <h2>Change password</h2>
          <form class="stack" method="post" action="/account/password">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <label for="current">Current password</label>
            <input id="current" name="current" type="password" autocomplete="current-password" required>
            <label for="new">New password (12 characters or more)</label>
            <input id="new" name="new" type="password" autocomplete="new-password" minlength="12" required>
            <p><button type="submit">Change password</button></p>
          </form>
        </div>
        <div class="card">
          <h2>Second factor (TOTP)</h2>
          {{#totpEnabled}}<p>On. Sign-in asks for a code from your authenticator app.</p>{{/totpEnabled}}
          {{^totpEnabled}}
          {{#pendingSecret}}
          <p>Add this secret to your authenticator app, then enter the code it shows.</p>
          <p class="secret" id="totp-secret">{{pendingSecret}}</p>
          <p class="muted">{{pendingURI}}</p>
          <form class="row" method="post" action="/account/totp/confirm">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <label>Code <input name="code" inputmode="numeric" pattern="[0-9]{6}" required autocomplete="one-time-code"></label>
            <button type="submit">Turn on</button>
          </form>
          {{/pendingSecret}}
          {{^pendingSecret}}
          <form method="post" action="/account/totp"><input type="hidden" name="_csrf" value="{{csrf}}">
            <button type="submit">Set up a second factor</button></form>
          {{/pendingSecret}}
          {{/totpEnabled}}
        </div>
        """#
}
