import Benchmark
import Crypto
import Foundation
import WardenCore
import WardenSecurity

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], scalingFactor: .kilo,
        maxDuration: .seconds(5), maxIterations: 1_000_000)

    let primaryKey = SymmetricKey(size: .bits256)
    let secondaryKey = SymmetricKey(size: .bits256)
    let primary = SASKey(primaryKey)
    let secondary = SASKey(secondaryKey)
    let resource = "localhost/devices/sensor-0042"
    let text = SASTokenSigner.token(resource: resource, key: primaryKey, expiry: 4_000_000_000)
    let secondaryText = SASTokenSigner.token(resource: resource, key: secondaryKey, expiry: 4_000_000_000)

    // What a CONNECT pays: parse the password, then check scope and HMAC.
    Benchmark("SAS token parse and verify (primary key)") { benchmark in
        for _ in benchmark.scaledIterations {
            let token = try SASToken.parse(text)
            blackHole(
                try SASTokenVerifier.verify(
                    token, resource: resource, primary: primary, secondary: secondary, now: 1_800_000_000))
        }
    }

    // The worst valid case: the primary HMAC is computed and fails before the secondary matches.
    Benchmark("SAS token parse and verify (secondary key)") { benchmark in
        for _ in benchmark.scaledIterations {
            let token = try SASToken.parse(secondaryText)
            blackHole(
                try SASTokenVerifier.verify(
                    token, resource: resource, primary: primary, secondary: secondary, now: 1_800_000_000))
        }
    }

    Benchmark("SAS token parse only") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SASToken.parse(text))
        }
    }

    let parsed = try? SASToken.parse(text)
    Benchmark("SAS token verify only (already parsed)") { benchmark in
        guard let parsed else { return }
        for _ in benchmark.scaledIterations {
            blackHole(
                try SASTokenVerifier.verify(
                    parsed, resource: resource, primary: primary, secondary: secondary, now: 1_800_000_000))
        }
    }
}
