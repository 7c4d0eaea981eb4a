/// How the platform's view differs from the store's: what a full sync writes, and what
/// `cohort sync --check` prints. Pure: computed from a snapshot and the stored state.
public struct DirectoryChanges: Sendable, Hashable {
    public var staffUpserted: [StaffMember] = []
    public var staffEnded: [String] = []
    public var contactsAdded: [Contact] = []
    public var contactsUpdated: [Contact] = []
    public var contactsEnded: [String] = []
    /// New relations, and relations that had ended and are back.
    public var relationsAdded: [Relation] = []
    /// Relations whose notes, origin or tags changed.
    public var relationsUpdated: [Relation] = []
    public var relationsEnded: [RelationKey] = []
    /// Tag changes on relations that stay (added and removed tag ids).
    public var relationTagChanges: [RelationTagChange] = []
    /// Groups that are new or whose name, order or tags changed (with all their live tags).
    public var tagGroupsUpserted: [TagGroup] = []
    public var tagGroupsEnded: [String] = []
    public var tagsEnded: [String] = []

    public init() {}

    public var isEmpty: Bool {
        staffUpserted.isEmpty && staffEnded.isEmpty && contactsAdded.isEmpty && contactsUpdated.isEmpty
            && contactsEnded.isEmpty && relationsAdded.isEmpty && relationsUpdated.isEmpty && relationsEnded.isEmpty
            && tagGroupsUpserted.isEmpty && tagGroupsEnded.isEmpty && tagsEnded.isEmpty
    }

    /// A count per kind of change, for summaries.
    public var summary: [(String, Int)] {
        [
            ("staff added or renamed", staffUpserted.count), ("staff gone", staffEnded.count),
            ("contacts added", contactsAdded.count), ("contacts changed", contactsUpdated.count),
            ("contacts gone", contactsEnded.count), ("relations added", relationsAdded.count),
            ("relations changed", relationsUpdated.count), ("relations ended", relationsEnded.count),
            ("relation tag changes", relationTagChanges.count), ("tag groups added or changed", tagGroupsUpserted.count),
            ("tag groups gone", tagGroupsEnded.count), ("tags gone", tagsEnded.count),
        ]
    }
}

/// Tags that differ on one relation that exists on both sides.
public struct RelationTagChange: Sendable, Hashable, Codable {
    public var key: RelationKey
    public var added: [String]
    public var removed: [String]

    public init(key: RelationKey, added: [String], removed: [String]) {
        self.key = key
        self.added = added
        self.removed = removed
    }
}

extension DirectoryChanges {
    /// Adds `contact` as added or updated if it differs from what is stored.
    public mutating func record(_ contact: Contact, stored: Contact?) {
        if let stored {
            if stored != contact { contactsUpdated.append(contact) }
        } else {
            contactsAdded.append(contact)
        }
    }

    /// Adds `relation` as added, or as updated (with its tag change) if it differs from what
    /// is stored.
    public mutating func record(_ relation: Relation, stored: Relation?) {
        guard let stored else {
            relationsAdded.append(relation)
            return
        }
        if relation != stored { relationsUpdated.append(relation) }
        if relation.tagIDs != stored.tagIDs {
            let before = Set(stored.tagIDs)
            let after = Set(relation.tagIDs)
            relationTagChanges.append(
                RelationTagChange(key: relation.key, added: after.subtracting(before).sorted(), removed: before.subtracting(after).sorted()))
        }
    }

    /// Upserts of contacts and relations, the part of a sync that may be written before the
    /// pass is complete.
    public var upsertCount: Int { contactsAdded.count + contactsUpdated.count + relationsAdded.count + relationsUpdated.count }
}

public enum DirectoryDiff {
    /// The changes that make `state` equal to what a complete pass saw in `snapshot`.
    ///
    /// Relations of unlicensed staff were not listed, so they are neither ended nor counted as
    /// unseen, and their customers stay. Output lists are sorted, so equal inputs give equal
    /// outputs.
    public static func changes(from state: DirectoryState, to snapshot: DirectorySnapshot) -> DirectoryChanges {
        var changes = DirectoryChanges()
        let kept = snapshot.unlicensedStaff

        var seenStaff: Set<String> = []
        for member in snapshot.staff {
            seenStaff.insert(member.userID)
            if let stored = state.staff[member.userID] {
                // A pass that learned no name keeps the one on record.
                if let name = member.name, name != stored.name { changes.staffUpserted.append(member) }
            } else {
                changes.staffUpserted.append(member)
            }
        }
        changes.staffEnded = state.staff.keys.filter { !seenStaff.contains($0) && !kept.contains($0) }.sorted()

        for contact in snapshot.contacts.values { changes.record(contact, stored: state.contacts[contact.externalUserID]) }
        var contactsKept: Set<String> = []
        for (key, relation) in snapshot.relations { changes.record(relation, stored: state.relations[key]) }
        for key in state.relations.keys where snapshot.relations[key] == nil {
            if kept.contains(key.userID) {
                contactsKept.insert(key.externalUserID)
            } else {
                changes.relationsEnded.append(key)
            }
        }
        changes.contactsEnded = state.contacts.keys.filter { snapshot.contacts[$0] == nil && !contactsKept.contains($0) }.sorted()

        let storedGroups = Dictionary(state.tagGroups.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var seenGroups: Set<String> = []
        var seenTags: Set<String> = []
        for group in snapshot.tagGroups {
            seenGroups.insert(group.id)
            for tag in group.tags { seenTags.insert(tag.id) }
            if storedGroups[group.id].map(normalized) != normalized(group) { changes.tagGroupsUpserted.append(group) }
        }
        changes.tagGroupsEnded = state.tagGroups.map(\.id).filter { !seenGroups.contains($0) }.sorted()
        changes.tagsEnded = state.tagGroups.flatMap(\.tags).map(\.id).filter { !seenTags.contains($0) }.sorted()

        changes.staffUpserted.sort { $0.userID < $1.userID }
        changes.contactsAdded.sort { $0.externalUserID < $1.externalUserID }
        changes.contactsUpdated.sort { $0.externalUserID < $1.externalUserID }
        changes.relationsAdded.sort { $0.key < $1.key }
        changes.relationsUpdated.sort { $0.key < $1.key }
        changes.relationsEnded.sort()
        changes.relationTagChanges.sort { $0.key < $1.key }
        changes.tagGroupsUpserted.sort { $0.id < $1.id }
        return changes
    }

    /// A group with its tags in id order, so listing order does not count as a change.
    private static func normalized(_ group: TagGroup) -> TagGroup {
        var copy = group
        copy.tags.sort { $0.id < $1.id }
        return copy
    }
}
