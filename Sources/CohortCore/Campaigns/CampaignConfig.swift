import Foundation

/// How many campaign messages one contact may receive in a window, across campaigns.
public struct FrequencyCap: Sendable, Hashable, CustomStringConvertible {
    public enum Window: Sendable, Hashable {
        /// The last N days, counted back from the send.
        case rollingDays(Int)
        /// The natural calendar day, ISO week or month in the business time zone.
        case calendarDay, calendarWeek, calendarMonth
    }

    public var max: Int
    public var window: Window
    /// A calendar-month cap whose maximum is the number of days in that month (the platform's
    /// current receive quota, spec 4.2).
    public var daysInMonth: Bool

    public init(max: Int, window: Window, daysInMonth: Bool = false) {
        self.max = max
        self.window = window
        self.daysInMonth = daysInMonth
    }

    /// The platform's default receive quota: as many messages per natural month as the month has days.
    public static let platformQuota = FrequencyCap(max: 31, window: .calendarMonth, daysInMonth: true)

    public var description: String {
        switch window {
        case .rollingDays(let days): "at most \(max) in \(days) days"
        case .calendarDay: "at most \(max) a day"
        case .calendarWeek: "at most \(max) a week"
        case .calendarMonth: daysInMonth ? "at most one per day of the month" : "at most \(max) a month"
        }
    }
}

/// Hours of the day (business time zone) in which no task is created, because each task
/// prompts a staff member's phone.
public struct QuietHours: Sendable, Hashable {
    /// Minutes after midnight; the quiet period may wrap midnight (21:00 to 09:00).
    public var start: Int
    public var end: Int
    /// What happens to a dispatch that falls in the quiet hours.
    public var action: Action

    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// Wait until the quiet hours end.
        case defer_ = "defer"
        /// Leave the recipients out (reported as `quiet_hours`): for messages that are stale by morning.
        case skip
    }

    public init(start: Int, end: Int, action: Action = .defer_) {
        self.start = start
        self.end = end
        self.action = action
    }

    public func contains(minuteOfDay minute: Int) -> Bool {
        start <= end ? (minute >= start && minute < end) : (minute >= start || minute < end)
    }
}

/// A message attachment as configured. Images are uploaded through the platform's media
/// upload when dispatch starts; links and mini programs go as written.
public enum CampaignAttachment: Sendable, Hashable {
    case image(file: String?, picURL: String?)
    case link(title: String, url: String, description: String?, pictureURL: String?)
    case miniProgram(title: String, appID: String, page: String, pictureFile: String)
}

/// Which staff member sends to a contact that several staff members have.
public enum SenderPolicy: String, Sendable, Hashable, CaseIterable {
    /// The one with the most recent interaction with the contact; the relation owner (the
    /// first to add the contact) when no interaction names a staff member.
    case recentInteraction = "recent_interaction"
    /// Always the relation owner.
    case owner
}

/// One template choice: the first variant whose segment holds the contact wins; a variant
/// without a segment catches everyone else.
public struct CampaignVariant: Sendable, Hashable {
    public var segment: NameReference?
    public var template: NameReference

    public init(segment: NameReference?, template: NameReference) {
        self.segment = segment
        self.template = template
    }
}

/// One campaign of Config/campaigns.yaml.
public struct CampaignSpec: Sendable, Hashable {
    public var name: String
    public var segment: NameReference
    /// In order; the last has no segment.
    public var variants: [CampaignVariant]
    public var attachments: [CampaignAttachment]
    /// When dispatch may start (unix seconds); nil: as soon as it is started.
    public var startAt: Int64?
    public var timeZone: TimeZone
    public var quietHours: QuietHours?
    /// Higher wins when a frequency cap bites.
    public var priority: Int
    /// Share of the segment kept out (0 to 0.5), for comparison.
    public var holdout: Double
    public var sender: SenderPolicy
    /// Stops the campaign at planning when any staff member would have to confirm more tasks.
    public var maxTasksPerSender: Int

    public init(
        name: String, segment: NameReference, variants: [CampaignVariant], attachments: [CampaignAttachment] = [],
        startAt: Int64? = nil, timeZone: TimeZone = TimeZone(identifier: "Asia/Shanghai")!, quietHours: QuietHours? = nil,
        priority: Int = 0, holdout: Double = 0, sender: SenderPolicy = .recentInteraction, maxTasksPerSender: Int = 50
    ) {
        self.name = name
        self.segment = segment
        self.variants = variants
        self.attachments = attachments
        self.startAt = startAt
        self.timeZone = timeZone
        self.quietHours = quietHours
        self.priority = priority
        self.holdout = holdout
        self.sender = sender
        self.maxTasksPerSender = maxTasksPerSender
    }
}

/// A welcome message choice: the first whose rule holds for the new relation wins.
public struct WelcomeSpec: Sendable, Hashable {
    /// Over the relation (staff, state, add_way, …); nil matches every new relation.
    public var rule: RuleText?
    public var template: NameReference

    public init(rule: RuleText?, template: NameReference) {
        self.rule = rule
        self.template = template
    }
}

/// How dispatch behaves across campaigns.
public struct DispatchSettings: Sendable, Hashable {
    public var frequencyCaps: [FrequencyCap]
    /// A campaign pauses itself when more than this share of its recent platform calls failed.
    public var pauseErrorRate: Double
    /// Calls looked at for the error rate (and the fewest before it can pause).
    public var errorWindow: Int
    /// When staff who have not confirmed a task are reminded, counted from the task's creation.
    public var reminders: [Int64]
    /// How long results are polled after a task is created.
    public var pollFor: Int64
    /// Tags that put a contact on the do-not-contact list (on any of its relations).
    public var optOutTags: [String]

    public init(
        frequencyCaps: [FrequencyCap] = [.platformQuota], pauseErrorRate: Double = 0.5, errorWindow: Int = 20,
        reminders: [Int64] = [4 * 3_600, 24 * 3_600], pollFor: Int64 = 7 * 86_400, optOutTags: [String] = []
    ) {
        self.optOutTags = optOutTags
        self.frequencyCaps = frequencyCaps
        self.pauseErrorRate = pauseErrorRate
        self.errorWindow = errorWindow
        self.reminders = reminders
        self.pollFor = pollFor
    }
}

/// Config/campaigns.yaml.
public struct CampaignsConfig: Sendable, Hashable {
    public var dispatch: DispatchSettings
    public var campaigns: [CampaignSpec]
    public var welcome: [WelcomeSpec]

    public init(dispatch: DispatchSettings = DispatchSettings(), campaigns: [CampaignSpec] = [], welcome: [WelcomeSpec] = []) {
        self.dispatch = dispatch
        self.campaigns = campaigns
        self.welcome = welcome
    }

    public func campaign(named name: String) -> CampaignSpec? {
        campaigns.first { $0.name == name }
    }
}
