import ArgumentParser
import Foundation
import Hummingbird
import Logging
import WeComKit
import WeComSimulator

/// `cohort-sim`: a local WeCom with a seeded dataset, on its own.
@main
struct CohortSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-sim",
        abstract: "Run a local WeCom simulator: the customer-contact API, callbacks, faults, inspection.",
        discussion: """
            The API answers under /cgi-bin/ (point WECOM_API_BASE at http://HOST:PORT). Controls:
            POST /sim/actions (console actions that send callbacks), POST|DELETE /sim/faults, GET /sim/inspect.
            The app secret, callback Token and EncodingAESKey come from WECOM_SECRET, WECOM_TOKEN and
            WECOM_AES_KEY (defaults: sim-secret and the platform spec's sample values).
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8090
    @Option(help: "Staff members with customer contact enabled.") var staff = 200
    @Option(help: "Customers in the dataset.") var contacts = 100_000
    @Option(help: "Seed of the dataset (same seed, same corp).") var seed: UInt64 = 42
    @Option(help: "Staff members without an interop licence (the last N).") var unlicensed = 0
    @Option(name: .customLong("corp-id"), help: "Corp id (also the callbacks' receive id).") var corpID = "wx5823bf96d3bd56c7"
    @Option(name: .customLong("callback-url"), help: "Where console actions send callbacks, e.g. http://127.0.0.1:8080/wecom/callback.")
    var callbackURL: String?
    @Option(name: .customLong("confirm-delay"), help: "Seconds until a staff member decides on a mass message.") var confirmDelay = 5.0
    @Option(name: .customLong("confirm-probability"), help: "Probability that a staff member confirms a mass message.")
    var confirmProbability = 1.0
    @Option(help: "Per-customer receive quota: days_in_month, per_week or per_day.") var quota = "days_in_month"

    func validate() throws {
        guard staff >= 0, contacts >= 0 else { throw ValidationError("--staff and --contacts cannot be negative") }
        guard (0...staff).contains(unlicensed) else { throw ValidationError("--unlicensed must be between 0 and --staff") }
        guard (0...1).contains(confirmProbability), confirmDelay >= 0 else {
            throw ValidationError("--confirm-probability is between 0 and 1 and --confirm-delay is not negative")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration = SimulatorConfiguration()
        configuration.corpID = corpID
        configuration.secret = environment["WECOM_SECRET"] ?? configuration.secret
        configuration.callbackToken = environment["WECOM_TOKEN"] ?? configuration.callbackToken
        configuration.encodingAESKey = environment["WECOM_AES_KEY"] ?? configuration.encodingAESKey
        configuration.confirmDelaySeconds = confirmDelay
        configuration.confirmProbability = confirmProbability
        configuration.seed = seed
        guard let receiveQuota = SimulatorConfiguration.ReceiveQuota(rawValue: quota) else {
            throw ValidationError("--quota must be days_in_month, per_week or per_day")
        }
        configuration.receiveQuota = receiveQuota
        if let callbackURL {
            guard let url = URL(string: callbackURL), url.scheme != nil else { throw ValidationError("--callback-url must be a URL") }
            configuration.callbackURL = url
        }
        guard CallbackCrypto.isValidEncodingAESKey(configuration.encodingAESKey) else {
            throw ValidationError("WECOM_AES_KEY must be the 43-character EncodingAESKey (letters and digits)")
        }
        var dataset = SimulatorDataset(staff: staff, contacts: contacts, seed: seed)
        dataset.unlicensedStaff = unlicensed
        let corp = dataset.generate()
        let simulator = WeComSimulator(configuration: configuration, corp: corp)
        let logger = Logger(label: "cohort-sim")
        let app = Application(
            router: SimulatorServer.router(simulator),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            logger: logger)
        print("cohort-sim: corp \(corpID), \(corp.staff.count) staff, \(corp.customers.count) customers, \(corp.relationCount) relations on http://\(host):\(port)")
        try await app.runService()
    }
}
