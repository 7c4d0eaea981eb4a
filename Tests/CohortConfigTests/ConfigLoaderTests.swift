import CohortConfig
import Foundation
import Testing

struct ConfigLoaderTests {
    /// A config directory in a fresh temporary folder.
    static func directory(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return dir.path
    }

    static let valid = """
        server:
          host: 0.0.0.0
          port: 9090
        database:
          path: /tmp/x.sqlite
          durability: full
        platform:
          corp_id: wwcorp
        inbox:
          max_attempts: 3
        logging:
          level: debug
          format: json
        """

    @Test func shippedConfigIsValid() throws {
        // The repository's own Config/ must always pass `cohort config check`.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let issues = ConfigLoader(directory: root.appendingPathComponent("Config").path, environment: [:]).check()
        #expect(issues.isEmpty, "\(issues)")
    }

    @Test func validFileLoadsEveryValue() throws {
        let settings = try ConfigLoader(directory: try Self.directory(["cohort.yaml": Self.valid]), environment: [:]).load()
        #expect(settings.server.host == "0.0.0.0")
        #expect(settings.server.port == 9090)
        #expect(settings.database.path == "/tmp/x.sqlite")
        #expect(settings.database.durability == .full)
        #expect(settings.platform.corpID == "wwcorp")
        #expect(settings.inbox.maxAttempts == 3)
        #expect(settings.logging.level == .debug)
        #expect(settings.logging.format == .json)
    }

    @Test func environmentOverridesFileAndSuppliesSecrets() throws {
        let environment = [
            "WECOM_CORP_ID": "wwenv", "COHORT_HTTP_PORT": "7000", "COHORT_HTTP_HOST": "::1", "COHORT_DATABASE": "/data/c.db",
            "WECOM_API_BASE": "http://127.0.0.1:9999", "WECOM_TOKEN": "tok", "WECOM_AES_KEY": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            "WECOM_SECRET": "sec", "COHORT_ADMIN_TOKEN": "adm",
        ]
        let settings = try ConfigLoader(directory: try Self.directory(["cohort.yaml": Self.valid]), environment: environment).load()
        #expect(settings.platform.corpID == "wwenv")
        #expect(settings.server.port == 7000)
        #expect(settings.server.host == "::1")
        #expect(settings.database.path == "/data/c.db")
        #expect(settings.platform.apiBase == "http://127.0.0.1:9999")
        #expect(settings.secrets.callbackToken == "tok")
        #expect(settings.secrets.wecomSecret == "sec")
        #expect(settings.secrets.adminToken == "adm")
        #expect(!"\(settings.secrets)".contains("sec"))
    }

    @Test func unknownKeyIsReportedAtItsPositionWithASuggestion() throws {
        let text = """
            server:
              host: 127.0.0.1
              prot: 8080
            platform:
              corp_id: ww1
            """
        let issues = ConfigLoader(directory: try Self.directory(["cohort.yaml": text]), environment: [:]).check()
        #expect(issues.map(\.description).contains { $0.hasSuffix("cohort.yaml:3:3: unknown key server.prot; did you mean port?") }, "\(issues)")
    }

    @Test func wrongTypesAreReportedAtTheValue() throws {
        let text = """
            server:
              port: eighty
            database:
              durability: sometimes
            platform:
              corp_id: ww1
            """
        let issues = ConfigLoader(directory: try Self.directory(["cohort.yaml": text]), environment: [:]).check().map(\.description)
        #expect(issues.contains { $0.contains("cohort.yaml:2:9: server.port must be a whole number") }, "\(issues)")
        #expect(issues.contains { $0.contains("cohort.yaml:4:15: database.durability must be one of normal, full") }, "\(issues)")
    }

    @Test func missingCorpIDIsRequired() throws {
        let issues = ConfigLoader(directory: try Self.directory(["cohort.yaml": "server:\n  port: 1\n"]), environment: [:]).check()
        #expect(issues.map(\.message).contains("missing required value platform.corp_id (or set WECOM_CORP_ID)"))
    }

    @Test func secretsInTheFileAreRefusedWithTheVariableToUse() throws {
        let text = "platform:\n  corp_id: ww1\n  token: abc\n"
        let issues = ConfigLoader(directory: try Self.directory(["cohort.yaml": text]), environment: [:]).check().map(\.description)
        #expect(issues.contains { $0.contains("cohort.yaml:3:3: platform.token is a secret: set WECOM_TOKEN") }, "\(issues)")
    }

    @Test func yamlSyntaxErrorsCarryTheirPosition() throws {
        let text = "server:\n  host: [unclosed\nplatform:\n  corp_id: ww1\n"
        let issues = ConfigLoader(directory: try Self.directory(["cohort.yaml": text]), environment: [:]).check()
        #expect(issues.count >= 1)
        #expect(issues.first?.message.contains("YAML syntax error") == true)
        #expect((issues.first?.line ?? 0) >= 2)
    }

    @Test func badEnvironmentValuesAreReportedWithoutTheirSecrets() throws {
        let environment = ["COHORT_HTTP_PORT": "http", "WECOM_AES_KEY": "tooShortSecretValue"]
        let issues = ConfigLoader(directory: try Self.directory(["cohort.yaml": Self.valid]), environment: environment).check()
        let text = issues.map(\.description).joined(separator: "\n")
        #expect(text.contains("environment: COHORT_HTTP_PORT must be a port number"))
        #expect(text.contains("environment: WECOM_AES_KEY must be the 43-character EncodingAESKey"))
        #expect(!text.contains("tooShortSecretValue"))
    }

    @Test func unknownFilesInTheDirectoryAreReported() throws {
        let issues = ConfigLoader(directory: try Self.directory(["cohort.yaml": Self.valid, "cohrot.yaml": "a: 1"]), environment: [:]).check()
        #expect(issues.map(\.description).contains { $0.contains("cohrot.yaml:1:1: unknown config file; did you mean cohort.yaml?") }, "\(issues)")
    }

    @Test func apiBaseMustBeSchemeAndHost() throws {
        let text = "platform:\n  corp_id: ww1\n  api_base: https://qyapi.weixin.qq.com/cgi-bin/\n"
        let issues = ConfigLoader(directory: try Self.directory(["cohort.yaml": text]), environment: [:]).check().map(\.description)
        #expect(issues.contains { $0.contains("cohort.yaml:3:13: platform.api_base is scheme and host only") }, "\(issues)")
    }
}
