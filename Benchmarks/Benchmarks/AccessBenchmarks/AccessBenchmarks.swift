import Benchmark
import Foundation
import Logging
import WardenAccess
import WardenAudit
import WardenCore
import WardenSecurity
import WardenStore

/// What every management request pays to know who it is, what a sign-in's password hash costs, and how fast
/// the audit log appends (issue 5's aims: under 20 µs per request, 100,000 records/s).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], scalingFactor: .kilo,
        maxDuration: .seconds(5), maxIterations: 1_000_000)

    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-bench-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let masterKey = MasterKey.generate()
    let database = try? SQLiteDatabase(
        path: folder.appendingPathComponent("warden.sqlite").path, sealer: AESGCMSealer(masterKey: masterKey))

    let now = Date()
    let claims = AccessTokenClaims(
        subject: "usr_x", kind: "user", session: "s", issuedAt: now, expiresAt: now.addingTimeInterval(900), id: "j")

    Benchmark("Access token ES256 verification (first sight of a token)") { benchmark in
        let authority = try await AccessTokenAuthority(keys: [.generate()])
        let token = try await authority.sign(claims)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await authority.verify(token, now: now))
        }
    }

    Benchmark("Request principal from an access token (verified before)") { benchmark in
        guard let database else { return }
        let (access, token, _) = try await Fixture.make(database)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(await access.principal(forBearer: Substring(token)))
        }
    }

    Benchmark("Request principal from an API key") { benchmark in
        guard let database else { return }
        let (access, _, key) = try await Fixture.make(database)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(await access.principal(forBearer: Substring(key)))
        }
    }

    Benchmark(
        "Password hash (scrypt N=2^15 r=8 p=1)",
        configuration: .init(scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 40)
    ) { benchmark in
        let hasher = PasswordHasher()
        let password = SecretBytes(Array("a long enough password".utf8))
        for _ in benchmark.scaledIterations {
            blackHole(try hasher.hash(password))
        }
    }

    Benchmark(
        "Audit append, 10,000 records batched and committed",
        configuration: .init(
            metrics: [.wallClock, .throughput], scalingFactor: .one, maxDuration: .seconds(10), maxIterations: 50)
    ) { benchmark in
        guard let database else { return }
        let log = try await AuditLog(
            store: database, chain: AuditChain(key: masterKey.derivedKey(label: AuditChain.keyLabel)), head: nil,
            bufferLimit: 1_000_000, clock: SystemClock(), logger: Logger(label: "bench"))
        let writer = Task { try await log.run() }
        let record = AuditRecord(
            at: 1_800_000_000_000, tenant: .defaultTenant, actorKind: "device", actor: "sensor-0042",
            sourceIP: "10.0.0.7", action: "device.authenticate", target: "sensor-0042", outcome: .success,
            referenceID: "0123456789ab", details: ["protocol": "mqtt", "method": "sas"])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for _ in 0..<9_999 { log.record(record) }
            await log.recordDurably(record)
        }
        benchmark.stopMeasurement()
        writer.cancel()
    }
}

enum Fixture {
    /// An access service with one signed-in user and one API key.
    static func make(_ database: SQLiteDatabase) async throws -> (AccessService, String, String) {
        if try await database.tenant(.defaultTenant) == nil {
            _ = try await database.createTenant(
                Tenant(id: .defaultTenant, hostName: .localhost, createdAt: Date()), etag: "bench")
        }
        var settings = AccessService.Settings()
        settings.passwordCost = .init(rounds: 1 << 4, blockSize: 8, parallelism: 1)
        let access = try await AccessService(
            store: database, settings: settings, clock: SystemClock(), logger: Logger(label: "bench"))
        let name = "bench-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await access.ensureBootstrapAdmin(username: "admin", credentialHash: [0])
        let admin = try await access.createUser(
            username: name, password: SecretBytes(Array("a long enough password".utf8)), isPlatformAdmin: true,
            roles: [:], by: Principal(kind: .user, id: "x", name: "x", isPlatformAdmin: true))
        _ = admin
        let grant = try await access.signIn(
            username: name, password: SecretBytes(Array("a long enough password".utf8)), totp: nil,
            from: .unspecified)
        let (_, key) = try await access.createAPIKey(
            in: .defaultTenant, name: "bench", permissions: [.registryRead], deviceGroup: nil, expiresAt: nil,
            by: Principal(kind: .user, id: "x", name: "x", isPlatformAdmin: true))
        _ = await access.principal(forBearer: Substring(grant.accessToken))
        return (access, grant.accessToken, String(decoding: key.bytes, as: UTF8.self))
    }
}
