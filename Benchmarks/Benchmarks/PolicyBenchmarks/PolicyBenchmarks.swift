import Benchmark
import WardenCore
import WardenMQTT
import WardenPolicy

/// One decision of the policy engine on the packet path (issue 14's aim: p99 under 5 µs with 10,000
/// statements): a device's telemetry PUBLISH and its C2D SUBSCRIBE, with the shipped statements alone and
/// beside a tenant document of 10 and of 10,000 statements (an allow per other device on its own area).
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
}
