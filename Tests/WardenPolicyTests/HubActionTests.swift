import Testing
import WardenCore
import WardenMQTT
import WardenPolicy

/// A device's twin, method and cloud-to-device traffic and a service's telemetry reading and cloud-to-device
/// sending are hub actions, asked beside MQTT's: a statement about them decides whatever topic statements allow.
struct HubActionTests {
    static let document = #"""
        statements:
          - id: frozen-twins
            effect: deny
            principals: { groups: [frozen] }
            actions: [twin.update-reported]
          - id: no-commands
            effect: deny
            principals: { groups: [frozen] }
            actions: [c2d.receive, method.respond]
          - id: no-c2d-from-monitors
            effect: deny
            principals: { services: [monitor] }
            actions: [c2d.send]
          - id: monitors-read-meters-only
            effect: deny
            principals: { services: [monitor] }
            actions: [telemetry.read]
            resources: ["devices/valve-1/#"]
        """#

    let authorizer: PolicyAuthorizer
    let frozen: DeviceID
    let free: DeviceID
    let monitor: PolicyName

    init() throws {
        frozen = try DeviceID("frozen-1")
        free = try DeviceID("free-1")
        monitor = try PolicyName("monitor")
        let document = try PolicyDocument(text: Array(Self.document.utf8))
        authorizer = PolicyAuthorizer(
            FixedPolicyFacts(document, devices: [.init(id: frozen, groups: [try GroupName("frozen")])]))
    }

    private func device(_ id: DeviceID, _ resource: AuthorizationRequest.Resource, _ action: PolicyAction? = nil)
        -> Decision
    {
        var request = AuthorizationRequest.device(id, in: .defaultTenant, resource)
        if let action {
            request = AuthorizationRequest(
                tenantID: .defaultTenant, subject: .device(id), action: action, resource: resource)
        }
        return authorizer.decide(request)
    }

    private func monitorDecides(_ resource: AuthorizationRequest.Resource, _ action: PolicyAction? = nil) -> Decision {
        let subject = AuthorizationRequest.Subject.service(monitor, permissions: [.serviceConnect])
        return authorizer.decide(
            AuthorizationRequest(
                tenantID: .defaultTenant, subject: subject, action: action ?? resource.action, resource: resource))
    }

    @Test func aDenyOfAHubActionRefusesTheTopicThatCarriesIt() throws {
        let patch = AuthorizationRequest.Resource.topic("$iothub/twin/PATCH/properties/reported/?$rid=1")
        let refused = device(frozen, patch)
        #expect(!refused.isAllowed)
        #expect(refused.action == "twin.update-reported")
        #expect(refused.statementID == "frozen-twins")
        #expect(device(free, patch).isAllowed)
        // Reading the twin is another action: still allowed.
        #expect(device(frozen, .topic("$iothub/twin/GET/?$rid=2")).isAllowed)
    }

    @Test func commandsAreRefusedAtSubscribeAndAtDelivery() throws {
        let c2d = try TopicFilter("devices/frozen-1/messages/devicebound/#")
        #expect(device(frozen, .filter(c2d)).action == "c2d.receive")
        #expect(!device(frozen, .topic("devices/frozen-1/messages/devicebound/%24.mid=1"), .receive).isAllowed)
        #expect(!device(frozen, .filter(try TopicFilter("$iothub/methods/POST/#"))).isAllowed)
        #expect(!device(frozen, .topic("$iothub/methods/POST/reboot/?$rid=1"), .receive).isAllowed)
        #expect(!device(frozen, .topic("$iothub/methods/res/200/?$rid=1")).isAllowed)
        // Twin answers carry no action of their own: the request was decided when made.
        #expect(device(frozen, .topic("$iothub/twin/res/204/?$rid=1"), .receive).isAllowed)
        #expect(device(free, .filter(c2d)).isAllowed == false)  // not its namespace: MQTT refuses first
        #expect(device(free, .filter(try TopicFilter("devices/free-1/messages/devicebound/#"))).isAllowed)
    }

    @Test func servicesHubActionsFollowTheirStatements() throws {
        let send = monitorDecides(.topic("devices/valve-1/messages/devicebound/"))
        #expect(!send.isAllowed)
        #expect(send.action == "c2d.send")
        #expect(monitorDecides(.topic("devices/meter-1/messages/events/"), .receive).isAllowed)
        #expect(!monitorDecides(.topic("devices/valve-1/messages/events/"), .receive).isAllowed)
        #expect(!monitorDecides(.filter(try TopicFilter("devices/valve-1/messages/events/#"))).isAllowed)
        // A plain resource never takes in a shared subscription; each delivery is still refused.
        #expect(monitorDecides(.filter(try TopicFilter("$share/g/devices/valve-1/messages/events/#"))).isAllowed)
        // Another service is not named: the shipped statements allow it all.
        let backend = AuthorizationRequest.service(
            try PolicyName("backend"), permissions: [.serviceConnect], in: .defaultTenant,
            .topic("devices/valve-1/messages/devicebound/"))
        #expect(authorizer.decide(backend).isAllowed)
    }

    @Test func theExplanationIsTheHubActions() throws {
        let request = AuthorizationRequest.device(
            frozen, in: .defaultTenant, .topic("$iothub/twin/PATCH/properties/reported/?$rid=1"))
        let explanation = authorizer.explain(request)
        #expect(explanation.request.action == .twinUpdateReported)
        #expect(explanation.enforced.statementID == "frozen-twins")
        // Refused as MQTT first: the story is MQTT's.
        let outside = AuthorizationRequest.device(frozen, in: .defaultTenant, .topic("other/topic"))
        #expect(authorizer.explain(outside).request.action == .publish)
    }
}
