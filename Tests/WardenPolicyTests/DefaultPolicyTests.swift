import Testing
import WardenCore
import WardenMQTT
import WardenPolicy

extension AuthorizationRequest.Resource {
    /// The resource of `action` on `text`: a topic name to publish, a filter (validated) to subscribe.
    static func of(_ action: PolicyAction, _ text: String) throws -> Self {
        action == .publish ? .topic(text) : .filter(try TopicFilter(text))
    }
}

/// The shipped default policy, through the broker's `Authorizer` seam, on the namespace rules' own table.
struct DefaultPolicyTests {
    let authorizer = PolicyAuthorizer(FixedPolicyFacts())

    private func decide(_ device: String, _ action: PolicyAction, _ topic: String) throws -> Decision {
        authorizer.decide(
            .device(try DeviceID(device), in: .defaultTenant, try .of(action, topic)))
    }

    @Test(arguments: [
        "devices/dev-1/messages/events/", "devices/dev-1/messages/events/%24.ct=application%2Fjson&a=1",
        "$iothub/twin/GET/?$rid=1", "$iothub/twin/PATCH/properties/reported/?$rid=2", "$iothub/methods/res/200/?$rid=3",
    ])
    func devicesPublishInTheirNamespace(_ topic: String) throws {
        #expect(try decide("dev-1", .publish, topic).isAllowed)
    }

    @Test(arguments: [
        "devices/dev-2/messages/events/", "devices/dev-10/messages/events/", "devices/dev-1", "devices/dev-1x/a",
        "other/topic", "$iothub/methods/POST/reboot", "$SYS/broker/clients",
    ])
    func devicesDoNotPublishElsewhere(_ topic: String) throws {
        let decision = try decide("dev-1", .publish, topic)
        #expect(!decision.isAllowed)
        #expect(decision.unmetConditions.count == 1 && decision.referenceID.count == 12)
    }

    @Test(arguments: [
        ("devices/dev-1/messages/devicebound/#", true), ("$iothub/twin/res/#", true), ("$iothub/methods/POST/#", true),
        ("$iothub/twin/PATCH/properties/desired/#", true), ("devices/+/messages/devicebound/#", false), ("#", false),
        ("devices/#", false), ("$iothub/#", false), ("$share/g/devices/dev-1/messages/devicebound/#", false),
        ("devices/dev-2/messages/devicebound/#", false),
    ])
    func devicesSubscribeInTheirNamespace(_ filter: String, _ allowed: Bool) throws {
        #expect(try decide("dev-1", .subscribe, filter).isAllowed == allowed)
    }

    /// A device named like a wildcard gets exactly its own namespace, nothing wider.
    @Test func wildcardLikeIdentitiesDoNotWiden() throws {
        #expect(!(try decide("+", .subscribe, "devices/dev-1/messages/devicebound/#").isAllowed))
        #expect(!(try decide("#", .publish, "devices/dev-1/messages/events/")).isAllowed)
        #expect(try decide("#", .publish, "devices/#/messages/events/").isAllowed)
    }

    @Test func denialsHaveDistinctReferenceIDsAndAllowsNone() throws {
        #expect(try decide("a", .publish, "x").referenceID != decide("a", .publish, "x").referenceID)
        #expect(try decide("a", .publish, "devices/a/messages/events/").referenceID.isEmpty)
    }
}

/// Backend services with a `serviceConnect` policy: the cloud side of every device of the tenant.
struct ServiceAuthorizationTests {
    let authorizer = PolicyAuthorizer(FixedPolicyFacts())

    private func decide(
        _ action: PolicyAction, _ topic: String,
        permissions: Set<SharedAccessPolicy.Permission> = [.serviceConnect]
    ) throws -> Bool {
        authorizer.decide(
            .service(try PolicyName("backend"), permissions: permissions, in: .defaultTenant, try .of(action, topic))
        ).isAllowed
    }

    @Test(arguments: [
        ("devices/+/messages/events/#", true), ("$share/workers/devices/+/messages/events/#", true),
        ("$SYS/broker/#", true), ("#", false), ("$iothub/methods/POST/#", false), ("other/#", false),
    ])
    func subscribe(filter: String, allowed: Bool) throws {
        #expect(try decide(.subscribe, filter) == allowed)
    }

    @Test(arguments: [
        ("devices/dev-1/messages/devicebound/", true), ("devices/dev-1/messages/devicebound/a=b", true),
        ("devices/dev-1/messages/events/", false), ("devices//messages/devicebound/", false), ("$SYS/x", false),
    ])
    func publish(topic: String, allowed: Bool) throws {
        #expect(try decide(.publish, topic) == allowed)
    }

    @Test func withoutServiceConnectNothing() throws {
        #expect(!(try decide(.subscribe, "devices/#", permissions: [.registryRead])))
    }
}
