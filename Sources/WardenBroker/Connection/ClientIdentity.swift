import WardenCore

/// Who a connection is once CONNECT has been accepted; every topic decision starts from this, never from
/// strings the client chose.
enum ClientIdentity: Sendable {
    case device(ConnectAuthenticator.DeviceIdentity)
    /// A client without credentials on a listener that admits them (loopback development and conformance).
    case anonymous(TenantID, AnonymousAccess)

    var deviceIdentity: ConnectAuthenticator.DeviceIdentity? {
        if case .device(let identity) = self { return identity }
        return nil
    }

    var tenantID: TenantID {
        switch self {
        case .device(let identity): identity.tenantID
        case .anonymous(let tenantID, _): tenantID
        }
    }
}

/// What anonymous clients of a listener may do (`mqtt.plain.anonymous`); of the `$` topics they may only
/// read `$SYS/…`.
public enum AnonymousAccess: String, Sendable, CaseIterable {
    /// Publish and subscribe anywhere in the tenant's topic space outside `$…`.
    case publishSubscribe = "publish-subscribe"
    /// Subscribe only.
    case subscribe

    func decide(_ action: AuthorizationRequest.Action, topic: String) -> Decision {
        // Broker statistics are for reading (development listeners only ever admit anonymous clients).
        if action == .subscribe, topic.hasPrefix("$SYS/") { return .allow() }
        if topic.hasPrefix("$") && !topic.hasPrefix("$share/") {
            return .deny(["anonymous clients may not use '$' topics"])
        }
        switch (self, action) {
        case (.publishSubscribe, _), (.subscribe, .subscribe): return .allow()
        case (.subscribe, .publish): return .deny(["anonymous clients of this listener may only subscribe"])
        }
    }
}
