// swift-tools-version:6.2
import Foundation
import PackageDescription

/// A path dependency's identity is its folder's name, which differs between clones; read it.
let warden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

// libFuzzer targets for every parser of untrusted input, and one for a whole connection. Build and run: see
// README.md (needs -sanitize=fuzzer and -enable-testing, so not in CI).
func fuzzer(_ name: String, _ products: [String], _ others: [Target.Dependency] = []) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzDriver"] + products.map { .product(name: $0, package: warden) } + others,
        swiftSettings: [.unsafeFlags(["-parse-as-library"])]
    )
}

let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")

let package = Package(
    name: "WardenFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        .target(name: "FuzzDriver"),
        fuzzer("MQTTDecoderFuzzer", ["WardenMQTT"], [nioCore]),
        fuzzer("AMQPDecoderFuzzer", ["WardenAMQP"], [nioCore]),
        fuzzer("SASTokenFuzzer", ["WardenSecurity", "WardenCore"], [crypto]),
        fuzzer("AzureUsernameFuzzer", ["WardenAzure", "WardenCore"]),
        fuzzer("AzureTopicFuzzer", ["WardenAzure"]),
        fuzzer("PropertyBagFuzzer", ["WardenAzure"]),
        fuzzer("PolicyDocumentFuzzer", ["WardenPolicy", "WardenCore", "WardenMQTT", "WardenAzure"]),
        fuzzer("TopicFuzzer", ["WardenBroker", "WardenMQTT"]),
        fuzzer("TimeTextFuzzer", ["WardenCore"]),
        fuzzer("FormTextFuzzer", ["WardenCore"]),
        fuzzer(
            "PKIFuzzer", ["WardenSecurity", "WardenCore"],
            [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]),
        fuzzer("JSONFuzzer", ["WardenCore", "WardenHub"]),
        fuzzer("DefenderFuzzer", ["WardenDefender", "WardenSecurity", "WardenCore"]),
        fuzzer(
            "TLSFuzzer", ["WardenTLS", "WardenSecurity", "WardenCore"],
            [
                nioCore, .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        fuzzer("ClusterFuzzer", ["WardenCluster", "WardenNATS"], [nioCore]),
        fuzzer(
            "ConnectionFuzzer",
            [
                "WardenBroker", "WardenMQTT", "WardenCore", "WardenPolicy", "WardenRegistry", "WardenSecurity",
                "WardenStore", "WardenAuthentication",
            ],
            [
                nioCore, crypto, .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        fuzzer(
            "AMQPConnectionFuzzer",
            [
                "WardenAMQPEndpoint", "WardenAMQP", "WardenHub", "WardenBroker", "WardenCore", "WardenPolicy",
                "WardenRegistry", "WardenSecurity", "WardenStore", "WardenAuthentication",
            ],
            [
                nioCore, crypto, .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ]),
    ]
)
