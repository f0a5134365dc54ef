// swift-tools-version:6.2
import Foundation
import PackageDescription

/// A path dependency's identity is its folder's name, which differs between clones; read it.
let warden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

// libFuzzer targets for the codecs. Build and run: see README.md (needs -sanitize=fuzzer, so not in CI).
let package = Package(
    name: "WardenFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "MQTTDecoderFuzzer",
            dependencies: [
                .product(name: "WardenMQTT", package: warden),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    ]
)
