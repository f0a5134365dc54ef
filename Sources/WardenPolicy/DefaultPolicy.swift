import WardenCore

/// The statements every tenant starts with, beside its own unless its document says `include-default: false`:
/// today's namespace rules (issue 3, "Authorization") written as policy.
///
/// Every authenticated device connects, and every service whose policy grants `serviceConnect`. A device
/// publishes, subscribes and receives below `devices/{its id}/`, publishes its requests to the hub
/// (`$iothub/twin/GET/…`, `…/PATCH/properties/reported/…`, `$iothub/methods/res/…`) and subscribes to what the
/// hub sends it (twin responses, desired-property patches, method requests). A service whose policy grants
/// `serviceConnect` is the cloud side of every device of its tenant: it reads below `devices/`, `$SYS/`,
/// `$iothub/feedback/` and `$warden/alerts/` (shared subscriptions too, to spread load) and sends cloud-to-device
/// messages.
///
/// The hub actions those topics stand for are allowed on them: a device's own twin, methods and cloud-to-device
/// messages; a service's telemetry reading and cloud-to-device sending.
///
/// `X/+/#` is "strictly below X", as the namespace rules always were: not `X` itself.
public enum DefaultPolicy {
    /// Every statement's id starts with `default.`, which tenants' statements may not use.
    public static let statements: [PolicyStatement] = [
        statement("default.device-connect", .allow, devices, [.connect], []),
        statement("default.service-connect", .allow, services, [.connect], []),
        statement(
            "default.device-namespace", .allow, devices, [.publish, .subscribe, .receive],
            ["devices/${device.id}/+/#"]),
        statement(
            "default.device-requests", .allow, devices, [.publish],
            ["$iothub/twin/GET/+/#", "$iothub/twin/PATCH/properties/reported/+/#", "$iothub/methods/res/+/#"]),
        statement(
            "default.device-hub-topics", .allow, devices, [.subscribe, .receive],
            ["$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#", "$iothub/methods/POST/#"]),
        // The hub actions their topics stand for (docs/policy.md, "Hub actions"): each is asked on the topic
        // that carries it, which the MQTT statements above already bound to the device's own.
        statement(
            "default.device-hub-actions", .allow, devices,
            [.twinRead, .twinUpdateReported, .methodRespond, .cloudToDeviceReceive],
            ["$iothub/+/#", "devices/${device.id}/messages/devicebound/#"]),
        statement(
            "default.service-read", .allow, services, [.subscribe, .receive],
            [
                "devices/+/#", "$SYS/+/#", "$iothub/feedback/+/#", "$warden/alerts/+/#", "$share/+/devices/+/#",
                "$share/+/$SYS/+/#", "$share/+/$iothub/feedback/+/#", "$share/+/$warden/alerts/+/#",
            ]),
        statement("default.service-c2d", .allow, services, [.publish], ["devices/+/messages/devicebound/#"]),
        statement(
            "default.service-hub-actions", .allow, services, [.cloudToDeviceSend, .telemetryRead],
            ["devices/+/messages/#", "$share/+/devices/+/messages/#"]),
        // `+` also matches an empty level; a cloud-to-device topic names a device.
        statement(
            "default.service-c2d-names-a-device", .deny, services, [.publish], ["devices//messages/devicebound/#"]),
        // A quarantined device (docs/defender.md) sends no telemetry; its twin, methods and cloud-to-device
        // messages still work, so that it can be looked at and told what to do.
        statement(
            "default.quarantine", .deny, devices, [.publish], ["devices/${device.id}/messages/events/#"],
            conditions: PolicyConditions(riskLevels: [.high, .critical])),
    ]

    private static let devices = PolicyPrincipals(devices: ["*"])
    private static let services = PolicyPrincipals(services: ["*"], permissions: [.serviceConnect])

    private static func statement(
        _ id: String, _ effect: PolicyStatement.Effect, _ principals: PolicyPrincipals, _ actions: Set<PolicyAction>,
        _ resources: [String], conditions: PolicyConditions = PolicyConditions()
    ) -> PolicyStatement {
        // The shipped resources are ours and valid; a typo fails the first test that builds the engine.
        PolicyStatement(
            id: id, effect: effect, principals: principals, actions: actions,
            resources: resources.map { text in
                guard let template = try? TopicTemplate(text) else { preconditionFailure("default resource \(text)") }
                return template
            }, conditions: conditions)
    }
}
