import Benchmark
import WardenCore
import WardenMQTT
import WardenPolicy

/// One decision of the policy engine on the packet path (issue 14's aim: p99 under 5 µs with 10,000
/// statements and 100,000 devices): a device's telemetry PUBLISH and its C2D SUBSCRIBE, with the shipped
/// statements alone and beside a tenant document of 10 and of 10,000 statements (an allow per other device on
/// its own area); a statement with five conditions; and the authorizer, registry facts included, for devices of
/// a fleet of 100,000 under a document of 10,000 statements of every kind, a twin GET deciding its hub action
/// too.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput], scalingFactor: .kilo, maxDuration: .seconds(5),
        maxIterations: 1_000_000)

    guard let deviceID = try? DeviceID("dev-1"), let filter = try? TopicFilter("devices/dev-1/messages/devicebound/#")
    else { preconditionFailure("the benchmark's own values") }
    let requestor = PolicyRequestor(tenantID: .defaultTenant, kind: .device(.init(id: deviceID)))
    let context = PolicyContext()

    for count in [0, 10, 10_000] {
        let statements = (0..<count).map { index in
            PolicyStatement(
                id: "area-\(index)", effect: .allow, principals: PolicyPrincipals(devices: ["unit-\(index)"]),
                actions: [.publish, .subscribe], resources: [(try? TopicTemplate("areas/\(index)/#"))].compactMap { $0 }
            )
        }
        let engine = PolicyEngine(PolicyDocument(statements: statements))

        Benchmark("Decide a telemetry PUBLISH, default + \(count) statements") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(engine.decide(requestor, .publish, .topic("devices/dev-1/messages/events/"), in: context))
            }
        }

        Benchmark("Decide a C2D SUBSCRIBE, default + \(count) statements") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(engine.decide(requestor, .subscribe, .filter(filter), in: context))
            }
        }
    }

    // A statement with five conditions that all hold: each is checked on every decision it is a candidate for.
    let conditioned = PolicyEngine(
        PolicyDocument(statements: [
            PolicyStatement(
                id: "guarded", effect: .allow, principals: PolicyPrincipals(devices: ["dev-*"]), actions: [.publish],
                resources: [(try? TopicTemplate("guarded/#"))].compactMap { $0 },
                conditions: {
                    var conditions = PolicyConditions(protocols: ["mqtt"])
                    conditions.tlsVersions = ["1.3"]
                    conditions.payloadSize = PolicyRange(atLeast: nil, atMost: 4_096)
                    conditions.messageRate = PolicyRange(atLeast: nil, atMost: 100)
                    conditions.reported = [
                        ReportedCondition(path: ["firmware", "version"], expectation: .oneOf([.text("2.1")]))
                    ]
                    return conditions
                }())
        ]))
    var seen = PolicyContext()
    seen.tlsVersion = "1.3"
    seen.payloadSize = 256
    seen.messageRate = 12
    seen.reported = ["firmware": ["version": "2.1"], "battery": .number(80)]
    Benchmark("Decide a PUBLISH whose statement has 5 conditions (protocol, TLS, size, rate, reported)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(conditioned.decide(requestor, .publish, .topic("guarded/a"), in: seen))
        }
    }

    let fleet = Fleet()
    for (name, requests) in [
        ("an allowed", fleet.allowed), ("a denied", fleet.denied),
        ("a twin GET (publish, then twin.read)", fleet.twinReads),
    ] {
        Benchmark("Authorize \(name) PUBLISH, 100,000 devices, default + 10,000 mixed statements") { benchmark in
            var next = 0
            for _ in benchmark.scaledIterations {
                blackHole(fleet.authorizer.decide(requests[next]))
                next = next == requests.count - 1 ? 0 : next + 1
            }
        }
    }
}

/// 100,000 devices, each in one of 1,000 groups with a floor and a role, and a document of 10,000 statements:
/// 7,000 naming a device, 2,000 a group, 900 an attribute pair and 100 a device-id pattern. The requests
/// visit devices in a scattered order, each publishing on its floor (allowed) or elsewhere (denied: a denial
/// also draws its reference id from the CSPRNG and says why).
private struct Fleet {
    let authorizer: PolicyAuthorizer
    let allowed: [AuthorizationRequest]
    let denied: [AuthorizationRequest]
    /// Hub requests: the MQTT action and the hub action it stands for are both decided.
    let twinReads: [AuthorizationRequest]

    init() {
        var statements: [PolicyStatement] = []
        func statement(_ id: String, _ principals: PolicyPrincipals, _ resource: String) {
            statements.append(
                PolicyStatement(
                    id: id, effect: .allow, principals: principals, actions: [.publish],
                    resources: [(try? TopicTemplate(resource))].compactMap { $0 }))
        }
        for index in 0..<7_000 {
            statement("device-\(index)", .init(devices: ["unit-\(index * 13)"]), "own/\(index)/#")
        }
        for index in 0..<2_000 {
            guard let group = try? GroupName("group-\(index)") else { continue }
            statement("group-\(index)", .init(groups: [group]), "groups/${device.group}/#")
        }
        for index in 0..<900 {
            statement("floor-\(index)", .init(attributes: ["floor": "\(index)"]), "floors/${device.attr.floor}/#")
        }
        for index in 0..<100 { statement("pattern-\(index)", .init(devices: ["lab-\(index)-*"]), "lab/\(index)/#") }
        let devices = (0..<100_000).compactMap { index -> PolicyRequestor.DeviceFacts? in
            guard let id = try? DeviceID("unit-\(index)"), let group = try? GroupName("group-\(index % 1_000)")
            else { return nil }
            return PolicyRequestor.DeviceFacts(
                id: id, groups: [group], attributes: ["floor": "\(index % 900)", "role": "sensor"],
                authentication: .sas)
        }
        authorizer = PolicyAuthorizer(FixedPolicyFacts(PolicyDocument(statements: statements), devices: devices))
        let scattered = (0..<4_096).map { ($0 * 7_919) % devices.count }
        allowed = scattered.map { index in
            .device(devices[index].id, in: .defaultTenant, .topic("floors/\(index % 900)/temperature"))
        }
        denied = scattered.map { index in
            .device(devices[index].id, in: .defaultTenant, .topic("floors/elsewhere/temperature"))
        }
        twinReads = scattered.map { index in
            .device(devices[index].id, in: .defaultTenant, .topic("$iothub/twin/GET/?$rid=\(index)"))
        }
    }
}
