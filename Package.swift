// swift-tools-version:6.1
import PackageDescription

/// Every target is compiled in Swift 6 mode with the same upcoming features the Hummingbird
/// codebase uses, so existentials are spelled `any` and a module imports what it uses.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "cohort",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cohort", targets: ["CohortCLI"]),
        .executable(name: "cohort-bench", targets: ["CohortBench"]),
        .executable(name: "cohort-sim", targets: ["SimulatorCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Pure domain: values, ports, policies. No I/O, no clock reads.
        .target(
            name: "CohortCore",
            swiftSettings: swiftSettings
        ),
        // Streaming CSV reading for imports.
        .target(
            name: "CohortCSV",
            swiftSettings: swiftSettings
        ),
        // Customer messages from Templates/*.mustache, rendered as plain text and checked
        // against what the data can supply.
        .target(
            name: "CohortTemplates",
            dependencies: [
                "CohortCore",
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: swiftSettings
        ),
        // Operator files (YAML) and environment into typed, validated Core values.
        .target(
            name: "CohortConfig",
            dependencies: [
                "CohortCore",
                "CohortTemplates",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Platform adapter: callback crypto and XML, later the API client.
        .target(
            name: "WeComKit",
            dependencies: [
                "CohortCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Repositories implementing Core's ports on SQLite (GRDB, system libsqlite3).
        .target(
            name: "CohortStore",
            dependencies: [
                "CohortCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The same ports on PostgreSQL (postgres-nio), for several instances sharing one database:
        // work claimed with SKIP LOCKED, scheduled jobs under advisory locks, a shared token and quota.
        .target(
            name: "CohortPostgres",
            dependencies: [
                "CohortCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Full and incremental contact sync: platform reads into the directory port.
        .target(
            name: "CohortSync",
            dependencies: [
                "CohortCore",
                "WeComKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // A faithful local WeCom for tests, benchmarks and the demo.
        .target(
            name: "WeComSimulator",
            dependencies: [
                "CohortCore",
                "WeComKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "SimulatorCLI",
            dependencies: [
                "WeComKit",
                "WeComSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Hummingbird application, background services, composition root.
        .target(
            name: "CohortServer",
            dependencies: [
                "CohortCore",
                "CohortConfig",
                "CohortPostgres",
                "CohortTemplates",
                "CohortStore",
                "CohortSync",
                "WeComKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CohortCLI",
            dependencies: [
                "CohortCore",
                "CohortCSV",
                "CohortConfig",
                "CohortStore",
                "CohortServer",
                "CohortSync",
                "WeComKit",
                "WeComSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CohortBench",
            dependencies: [
                "CohortCore",
                "CohortConfig",
                "CohortPostgres",
                "CohortStore",
                "CohortServer",
                "CohortSync",
                "WeComKit",
                "WeComSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Shared fakes and fixture builders for the test targets.
        .target(
            name: "CohortTesting",
            dependencies: [
                "CohortCore",
                "CohortPostgres",
                "WeComKit",
                "WeComSimulator",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CohortCoreTests",
            dependencies: ["CohortCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CohortTemplatesTests",
            dependencies: ["CohortCore", "CohortTemplates"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CohortCSVTests",
            dependencies: ["CohortCSV"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CohortConfigTests",
            dependencies: ["CohortCore", "CohortConfig"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WeComKitTests",
            dependencies: ["CohortCore", "WeComKit", "CohortTesting"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WeComSimulatorTests",
            dependencies: ["CohortCore", "WeComKit", "WeComSimulator", "CohortTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CohortSyncTests",
            dependencies: ["CohortCore", "CohortPostgres", "CohortStore", "CohortSync", "WeComKit", "WeComSimulator", "CohortTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CohortStoreTests",
            dependencies: [
                "CohortCore", "CohortStore", "CohortPostgres", "CohortTesting", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CohortServerTests",
            dependencies: [
                "CohortCore",
                "CohortConfig",
                "CohortPostgres",
                "CohortStore",
                "CohortServer",
                "CohortSync",
                "CohortTesting",
                "WeComKit",
                "WeComSimulator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
