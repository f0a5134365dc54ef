import WardenAzure

extension AuthorizationRequest {
    /// The hub action this MQTT request stands for beside its own, asked after it on the same topic in the same
    /// context (docs/policy.md, "Hub actions"): a device's twin GET is `twin.read`, a service's PUBLISH to a
    /// device's cloud-to-device topic `c2d.send`. Nil for plain MQTT.
    public var hubRequest: AuthorizationRequest? {
        guard let resource, let hubAction = Self.hubAction(of: action, on: resource.text, by: subject) else {
            return nil
        }
        var request = AuthorizationRequest(tenantID: tenantID, subject: subject, action: hubAction, resource: resource)
        request.context = context
        return request
    }

    private static func hubAction(of action: PolicyAction, on text: String, by subject: Subject) -> PolicyAction? {
        guard action == .publish || action == .subscribe || action == .receive else { return nil }
        let sends = action == .publish
        // A device's PUBLISH stands for a hub action on `$iothub/…` only: its telemetry, most of what devices
        // send, is not read again here.
        if case .device = subject, sends, text.utf8.first != UInt8(ascii: "$") { return nil }
        guard let feature = HubFeature(text) else { return nil }
        switch (subject, feature) {
        case (.device, .twinGet) where sends: return .twinRead
        case (.device, .twinReportedPatch) where sends: return .twinUpdateReported
        case (.device, .methodResponse) where sends: return .methodRespond
        case (.device, .twinDesiredPatch) where !sends: return .twinRead
        case (.device, .methodRequest) where !sends: return .methodRespond
        case (.device, .cloudToDevice) where !sends: return .cloudToDeviceReceive
        case (.service, .cloudToDevice) where sends: return .cloudToDeviceSend
        case (.service, .telemetry) where !sends: return .telemetryRead
        default: return nil
        }
    }
}
