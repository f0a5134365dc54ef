import Benchmark
import Crypto
import Foundation
import WardenCore
import WardenRegistry
import WardenSecurity

/// A directory holding `count` SAS devices in the default tenant, filled the way the server fills it: by events.
func makeDirectory(devices count: Int) throws -> (DeviceDirectory, [DeviceID], [SASKeyPair]) {
    let bus = EventBus()
    let directory = DeviceDirectory()
    directory.follow(bus)
    let now = Date()
    bus.publish(.tenantCreated(Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now)))
    var ids: [DeviceID] = []
    var keys: [SASKeyPair] = []
    for index in 0..<count {
        let id = try DeviceID("sensor-\(index)")
        let pair = SASKeyPair.random()
        bus.publish(
            .deviceCreated(
                Device(
                    tenantID: .defaultTenant, id: id, generationID: "g", etag: "e", status: .enabled, statusReason: nil,
                    statusUpdatedAt: now, authentication: .sas(pair), attributes: [:], createdAt: now, updatedAt: now)))
        ids.append(id)
        keys.append(pair)
    }
    return (directory, ids, keys)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], scalingFactor: .kilo,
        maxDuration: .seconds(5), maxIterations: 1_000_000)

    guard let (directory, ids, keys) = try? makeDirectory(devices: 100_000) else { return }
    let probe = ids[ids.count / 2]

    Benchmark("Device lookup (100k devices)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(directory.entry(.defaultTenant, probe))
        }
    }

    Benchmark("Tenant lookup by host name") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(directory.tenant(forHost: "localhost"))
        }
    }

    let token = try? SASToken.parse(
        SASTokenSigner.token(
            resource: "localhost/devices/\(probe.rawValue)",
            key: SymmetricKey(data: keys[ids.count / 2].primary.bytes), expiry: 4_000_000_000))

    // What CONNECT pays after parsing: lookup, scope and HMAC together.
    Benchmark("Device SAS authentication (lookup + verify, 100k devices)") { benchmark in
        guard let token else { return }
        for _ in benchmark.scaledIterations {
            blackHole(try directory.authenticate(token, tenantID: .defaultTenant, deviceID: probe, now: 1_800_000_000))
        }
    }
}
