// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "warden",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "warden", targets: ["warden"]),
        .executable(name: "warden-bench", targets: ["warden-bench"]),
        .library(name: "WardenCore", targets: ["WardenCore"]),
        .library(name: "WardenSecurity", targets: ["WardenSecurity"]),
        .library(name: "WardenStore", targets: ["WardenStore"]),
        .library(name: "WardenRegistry", targets: ["WardenRegistry"]),
        .library(name: "WardenAzure", targets: ["WardenAzure"]),
        .library(name: "WardenAuthentication", targets: ["WardenAuthentication"]),
        .library(name: "WardenTLS", targets: ["WardenTLS"]),
        .library(name: "WardenMQTT", targets: ["WardenMQTT"]),
        .library(name: "WardenAMQP", targets: ["WardenAMQP"]),
        .library(name: "WardenAMQPEndpoint", targets: ["WardenAMQPEndpoint"]),
        .library(name: "WardenBroker", targets: ["WardenBroker"]),
        .library(name: "WardenAccess", targets: ["WardenAccess"]),
        .library(name: "WardenAudit", targets: ["WardenAudit"]),
        .library(name: "WardenPolicy", targets: ["WardenPolicy"]),
        .library(name: "WardenHub", targets: ["WardenHub"]),
        .library(name: "WardenDefender", targets: ["WardenDefender"]),
        .library(name: "WardenNATS", targets: ["WardenNATS"]),
        .library(name: "WardenCluster", targets: ["WardenCluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-extras/swift-extras-base64", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // Server-side TLS connections over BoringSSL as swift-nio-ssl links it, and the context settings
        // swift-nio-ssl has none for (docs/architecture.md, "TLS").
        .target(name: "CWardenTLS"),
        .target(name: "CWardenAllocator"),
        .target(name: "CWardenClock"),
        // One C function: SQLite's statement journals in memory (a variadic sqlite3_config), see SQLiteDatabase.
        .target(name: "CWardenSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(name: "CWardenPKCS11", linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "WardenCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto")
            ]
        ),
        .target(
            name: "WardenSecurity",
            dependencies: [
                "WardenCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "ExtrasBase64", package: "swift-extras-base64"),
            ]
        ),
        .target(
            name: "WardenMQTT",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio")
            ]
        ),
        .target(
            name: "WardenAMQP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio")
            ]
        ),
        .target(
            name: "WardenTLS",
            dependencies: [
                "CWardenTLS", "WardenCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        .target(
            name: "WardenAMQPEndpoint",
            dependencies: [
                "WardenAMQP", "WardenCore", "WardenAuthentication", "WardenBroker", "WardenHub", "WardenAzure", "WardenTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "WardenNATS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "WardenStore",
            dependencies: [
                "WardenCore", "CWardenSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "WardenRegistry",
            dependencies: [
                "WardenCore", "WardenStore", "WardenSecurity", "WardenPolicy",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(name: "WardenAzure", dependencies: ["WardenCore"]),
        .target(
            name: "WardenAuthentication",
            dependencies: ["WardenCore", "WardenSecurity", "WardenRegistry", "WardenAzure"]
        ),
        .target(
            name: "WardenPolicy",
            dependencies: [
                "WardenCore", "WardenMQTT", "WardenAzure", .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "WardenAccess",
            dependencies: [
                "WardenCore", "WardenStore", "WardenSecurity",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "WardenAudit",
            dependencies: [
                "WardenCore", "WardenStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "WardenBroker",
            dependencies: [
                "WardenCore", "WardenMQTT", "WardenSecurity", "WardenRegistry", "WardenStore", "WardenAzure",
                "WardenAuthentication", "WardenPolicy", "WardenTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "WardenHub",
            dependencies: [
                "WardenCore", "WardenStore", "WardenBroker", "WardenMQTT", "WardenSecurity", "WardenAzure",
                "WardenAuthentication", "WardenPolicy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "WardenCluster",
            dependencies: [
                "WardenCore", "WardenNATS", "WardenStore", "WardenBroker", "WardenMQTT", "WardenSecurity", "WardenHub",
                "WardenDefender",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "WardenPKI",
            dependencies: [
                "WardenCore", "WardenStore", "WardenSecurity",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "WardenProvisioning",
            dependencies: [
                "WardenCore", "WardenStore", "WardenSecurity", "WardenRegistry", "WardenHub", "WardenBroker",
                "WardenAzure", "WardenAuthentication", "WardenPKI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "WardenDefender",
            dependencies: [
                "WardenCore", "WardenStore", "WardenMQTT",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "WardenAPI",
            dependencies: [
                "WardenCore", "WardenSecurity", "WardenRegistry", "WardenHub", "WardenAccess", "WardenAudit",
                "WardenAzure", "WardenPolicy", "WardenMQTT", "WardenPKI", "WardenProvisioning", "WardenDefender",
                "WardenAuthentication",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "WardenPortal",
            dependencies: [
                "WardenCore", "WardenAPI", "WardenAccess", "WardenAudit", "WardenRegistry", "WardenHub",
                "WardenSecurity", "WardenPolicy", "WardenPKI", "WardenProvisioning", "WardenDefender",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "WardenServer",
            dependencies: [
                "WardenTLS", "CWardenAllocator", "CWardenClock", "CWardenPKCS11", "WardenCore", "WardenStore", "WardenSecurity", "WardenRegistry",
                "WardenAPI",
                "WardenBroker", "WardenAuthentication",
                "WardenAMQPEndpoint", "WardenMQTT", "WardenPolicy", "WardenHub", "WardenAccess", "WardenAudit", "WardenPortal", "WardenPKI",
                "WardenProvisioning", "WardenDefender", "WardenCluster", "WardenNATS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "warden",
            dependencies: [
                "WardenCore", "WardenServer", "WardenAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "warden-bench",
            dependencies: [
                "WardenCore", "WardenMQTT", "WardenSecurity",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // A real nats-server for the tests that need one (the NATS client's and the cluster's); not in any product.
        .target(
            name: "WardenTestNATS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/WardenTestNATS"
        ),
        .testTarget(name: "WardenCoreTests", dependencies: ["WardenCore"]),
        .testTarget(
            name: "WardenTLSTests",
            dependencies: [
                "WardenTLS", "WardenSecurity", "WardenCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "WardenNATSTests",
            dependencies: [
                "WardenNATS", "WardenTestNATS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "WardenClusterTests",
            dependencies: [
                "WardenCluster", "WardenNATS", "WardenBroker", "WardenCore", "WardenMQTT", "WardenRegistry",
                "WardenSecurity", "WardenStore", "WardenTestNATS", "WardenHub", "WardenPolicy", "WardenDefender",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "WardenAMQPTests",
            dependencies: [
                "WardenAMQP",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            // The script that wrote ProtonCaptures.swift, kept to show what each capture is.
            exclude: ["Captures"]
        ),
        .testTarget(
            name: "WardenAMQPEndpointTests",
            dependencies: [
                "WardenAMQPEndpoint", "WardenAMQP", "WardenAzure", "WardenCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WardenMQTTTests",
            dependencies: [
                "WardenMQTT",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WardenSecurityTests",
            dependencies: [
                "WardenSecurity",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            resources: [.copy("Vectors")]
        ),
        .testTarget(
            name: "WardenStoreTests",
            dependencies: [
                "WardenStore", "WardenSecurity", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "WardenRegistryTests",
            dependencies: [
                "WardenRegistry", "WardenStore", "WardenSecurity",
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .testTarget(
            name: "WardenPKITests",
            dependencies: [
                "WardenPKI", "WardenStore", "WardenSecurity", "WardenCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]),
        .testTarget(name: "WardenPolicyTests", dependencies: ["WardenPolicy", "WardenCore", "WardenMQTT"]),
        .testTarget(name: "WardenAzureTests", dependencies: ["WardenAzure", "WardenCore"]),
        .testTarget(
            name: "WardenAuthenticationTests",
            dependencies: ["WardenAuthentication", "WardenAzure", "WardenRegistry", "WardenStore", "WardenSecurity"]
        ),
        .testTarget(
            name: "WardenAccessTests",
            dependencies: [
                "WardenAccess", "WardenStore", "WardenSecurity", "WardenCore",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "WardenAuditTests",
            dependencies: [
                "WardenAudit", "WardenStore", "WardenCore", "WardenSecurity",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "WardenBrokerTests",
            dependencies: [
                "WardenBroker", "WardenMQTT", "WardenRegistry", "WardenStore", "WardenSecurity", "WardenAuthentication",
                "WardenAzure", "WardenPolicy",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "WardenAPITests",
            dependencies: [
                "WardenAPI", "WardenRegistry", "WardenStore", "WardenSecurity", "WardenHub", "WardenBroker",
                "WardenAccess", "WardenAudit", "WardenPortal", "WardenAuthentication", "WardenPolicy", "WardenPKI",
                "WardenProvisioning", "WardenDefender",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "WardenDefenderTests",
            dependencies: ["WardenDefender", "WardenStore", "WardenSecurity", "WardenCore"]),
        .testTarget(
            name: "WardenServerTests", dependencies: ["WardenServer", "WardenSecurity", "WardenCore", "WardenStore"]),
        .testTarget(
            name: "WardenHubTests",
            dependencies: [
                "WardenHub", "WardenBroker", "WardenMQTT", "WardenCore", "WardenStore", "WardenSecurity",
                "WardenRegistry", "WardenAzure", "WardenAuthentication", "WardenPolicy", "WardenProvisioning",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(
            name: "WardenIntegrationTests",
            dependencies: [
                "warden",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ]
)

// One settings list for every target of ours (STYLE R1.1).
for target in package.targets {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"),
            .enableUpcomingFeature("MemberImportVisibility"),
            .enableUpcomingFeature("InternalImportsByDefault"),
        ]
}
