// swift-tools-version:6.2
import Foundation
import PackageDescription

/// A path dependency's identity is its folder's name, which differs between clones; read it.
let warden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

// Hot-path benchmarks (ordo-one/benchmark), a package of their own so that the main build stays lean.
// Run from this folder: swift package benchmark
let package = Package(
    name: "WardenBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "SecurityBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "WardenCore", package: warden),
                .product(name: "WardenSecurity", package: warden),
            ],
            path: "Benchmarks/SecurityBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RegistryBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "WardenCore", package: warden),
                .product(name: "WardenSecurity", package: warden),
                .product(name: "WardenRegistry", package: warden),
            ],
            path: "Benchmarks/RegistryBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "AccessBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WardenCore", package: warden),
                .product(name: "WardenSecurity", package: warden),
                .product(name: "WardenStore", package: warden),
                .product(name: "WardenAccess", package: warden),
                .product(name: "WardenAudit", package: warden),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/AccessBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "MQTTBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "WardenMQTT", package: warden),
                .product(name: "WardenBroker", package: warden),
            ],
            path: "Benchmarks/MQTTBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "PolicyBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WardenCore", package: warden),
                .product(name: "WardenMQTT", package: warden),
                .product(name: "WardenPolicy", package: warden),
            ],
            path: "Benchmarks/PolicyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
