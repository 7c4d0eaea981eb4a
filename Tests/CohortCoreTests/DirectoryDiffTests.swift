import CohortCore
import Testing

@Suite struct DirectoryDiffTests {
    let tag = Tag(id: "et1", groupID: "g1", name: "金卡")

    func relation(_ external: String, _ user: String, tags: [String] = []) -> Relation {
        Relation(externalUserID: external, userID: user, createTime: 1, tagIDs: tags)
    }

    @Test func equalSidesMeanNoChangesWhateverTheListingOrder() {
        let group = TagGroup(id: "g1", name: "等级", tags: [tag, Tag(id: "et2", groupID: "g1", name: "银卡")])
        var reversed = group
        reversed.tags.reverse()
        let state = DirectoryState(
            staff: ["u": StaffMember(userID: "u", name: "张三")], contacts: ["wm1": Contact(externalUserID: "wm1")],
            relations: [RelationKey(externalUserID: "wm1", userID: "u"): relation("wm1", "u", tags: ["et2", "et1"])], tagGroups: [group])
        let snapshot = DirectorySnapshot(
            staff: [StaffMember(userID: "u")], contacts: ["wm1": Contact(externalUserID: "wm1")],
            relations: [RelationKey(externalUserID: "wm1", userID: "u"): relation("wm1", "u", tags: ["et1", "et2"])], tagGroups: [reversed])
        #expect(DirectoryDiff.changes(from: state, to: snapshot).isEmpty)
    }

    @Test func unseenRelationsEndExceptThoseOfUnlicensedStaff() {
        let state = DirectoryState(
            staff: ["a": StaffMember(userID: "a"), "b": StaffMember(userID: "b")],
            contacts: ["wm1": Contact(externalUserID: "wm1"), "wm2": Contact(externalUserID: "wm2")],
            relations: [
                RelationKey(externalUserID: "wm1", userID: "a"): relation("wm1", "a"),
                RelationKey(externalUserID: "wm2", userID: "b"): relation("wm2", "b"),
            ])
        let snapshot = DirectorySnapshot(staff: [StaffMember(userID: "a"), StaffMember(userID: "b")], unlicensedStaff: ["b"])
        let changes = DirectoryDiff.changes(from: state, to: snapshot)
        #expect(changes.relationsEnded == [RelationKey(externalUserID: "wm1", userID: "a")])
        #expect(changes.contactsEnded == ["wm1"])
        #expect(changes.staffEnded.isEmpty)
    }

    @Test func tagChangesOnALiveRelationAreListedAsAddedAndRemoved() {
        let key = RelationKey(externalUserID: "wm1", userID: "a")
        let state = DirectoryState(contacts: ["wm1": Contact(externalUserID: "wm1")], relations: [key: relation("wm1", "a", tags: ["et1", "et2"])])
        let snapshot = DirectorySnapshot(contacts: ["wm1": Contact(externalUserID: "wm1")], relations: [key: relation("wm1", "a", tags: ["et2", "et3"])])
        let changes = DirectoryDiff.changes(from: state, to: snapshot)
        #expect(changes.relationTagChanges == [RelationTagChange(key: key, added: ["et3"], removed: ["et1"])])
        #expect(changes.relationsUpdated.map(\.key) == [key])
    }
}
