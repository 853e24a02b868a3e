# ruff: noqa: E501 (the paragraphs keep their real lengths, one string each)
"""Four posts by a Chinese writer and the English versions they published, with the
known paragraph alignment: each post is a list of groups (Chinese paragraphs, English
paragraphs). The translations are free, as a writer translates their own post: a long
paragraph split in two, two short ones merged, an aside for Chinese readers dropped, a
note for English readers added, numbers, links and inline code kept.
"""

from __future__ import annotations

POSTS: dict[str, list[tuple[list[str], list[str]]]] = {
    "pomodoro": [
        (["我用了整整三年番茄钟。每天早上打开计时器，二十五分钟工作，五分钟休息，四个番茄之后休息长一点。那时候我觉得自己终于找到了对付拖延的办法。"],
         ["For three whole years I worked by the Pomodoro timer. Every morning I started the clock: twenty-five minutes of work, five minutes of rest, a longer break after four rounds. I thought I had finally found the cure for procrastination."]),
        (["后来我翻了一下自己的记录，发现一个有意思的事：2019 年我一共记了 1,460 个番茄，可那一年我写完的文章只有 12 篇，比前一年还少。"],
         ["Then I went through my logs and found something odd: in 2019 I recorded 1,460 pomodoros, yet I finished only 12 essays that year, fewer than the year before."]),
        (["问题不在计时器本身。问题在于，它把“坐在桌前”和“在做事”混为一谈。我可以花一个番茄整理标签，再花一个番茄换主题颜色，然后心安理得地在表格上打两个勾。"],
         ["The timer itself was not the problem. The problem was that it treated sitting at the desk and getting something done as the same thing. I could spend one pomodoro sorting tags and another changing my editor's colour theme, and tick two boxes with a clear conscience."]),
        (["写作尤其不适合被切成二十五分钟一段。真正进入状态往往要二十分钟，刚写顺手铃就响了；而有些日子，我盯着空白页面坐满四个番茄，一个字也没有。计时器只会忠实地记录下这些时间，却从不告诉我哪些时间是有用的。"],
         ["Writing in particular does not fit into twenty-five-minute slices. It often takes me twenty minutes just to get going, and the bell rings the moment the sentences start to flow.",
          "On other days I stared at a blank page for four full rounds and wrote nothing. The timer faithfully recorded all that time and never told me which of it had been useful."]),
        (["顺便说一句，国内有好几个番茄钟 App 会把你的记录做成排行榜，和好友比谁的番茄多。我试过一周，结果是大家比赛谁更会开着计时器发呆。"],
         []),
        (["现在我换了一个笨办法：每天只写下一件“今天做完就算赢”的事，做完就停。不计时，不打卡，也不统计。"],
         ["These days I use a clumsier method: each morning I write down one thing that, once done, means the day is won, and when it is done I stop. No timer, no streaks, no statistics."]),
        (["这个办法是从 [Oliver Burkeman 的《四千周》](https://www.oliverburkeman.com/books) 里学来的。他说人一生大约只有 4,000 个星期，所以重要的不是做更多，而是选对少数几件事。"],
         ["I took the idea from [Oliver Burkeman's *Four Thousand Weeks*](https://www.oliverburkeman.com/books). A human life, he points out, lasts roughly 4,000 weeks, so what matters is not doing more but choosing the few things worth doing."]),
        (["效果说不上神奇。有些天那件事一上午就做完了，下午我就去散步；有些天到晚上还没做完，我也就认了。"],
         ["The results are not miraculous. Some days the one thing is done by noon and I go for a walk in the afternoon; some days it is still unfinished at night, and I accept that."]),
        (["但去年我写完了 31 篇文章。"],
         ["But last year I finished 31 essays."]),
        (["我没有扔掉计时器。它现在躺在抽屉里，偶尔拿出来煮鸡蛋。"],
         ["I have not thrown the timer away. It lives in a drawer now, and now and then I use it to boil eggs."]),
    ],
    "kyoto": [
        (["去年秋天，我在京都租了一间老町屋，住了整整 30 天。"],
         ["Last autumn I rented an old machiya townhouse in Kyoto and stayed for 30 days."]),
        (["房子在西阵附近，一楼是狭长的土间，二楼的榻榻米房间冬天冷得像冰箱。房东是一位七十多岁的老太太，每周三会骑着自行车来收垃圾，顺便检查我有没有把垃圾分错类。"],
         ["The house was near Nishijin: a long, narrow earthen-floored passage downstairs and, upstairs, a tatami room that got as cold as a fridge. The landlady, a woman in her seventies, cycled over every Wednesday to collect the rubbish and check that I had sorted it correctly."]),
        (["我当然分错了。",
          "京都的垃圾分类比上海还细：塑料瓶要撕掉标签、冲洗干净，瓶盖单独放，周四只收瓶罐，周一和周五收可燃垃圾。"],
         ["Of course I had not. Kyoto sorts its rubbish even more finely than Shanghai does: plastic bottles must be rinsed with their labels torn off, caps go in a separate bag, bottles and cans are collected only on Thursdays, and burnable rubbish on Mondays and Fridays."]),
        ([],
         ["(A note for readers outside China: Shanghai made sorting compulsory in 2019, and its rules were thought strict.)"]),
        (["第一周我几乎哪里都没去。每天早上在附近的面包店买一个咖喱面包，然后坐在鸭川边上看人遛狗。"],
         ["The first week I hardly went anywhere. Every morning I bought a curry bun at the bakery round the corner and sat by the Kamo River watching people walk their dogs."]),
        (["游客少的时候，京都安静得让人不习惯。晚上九点以后，整条街只剩下自动贩卖机的光。"],
         ["When the tourists thin out, Kyoto is so quiet it takes getting used to. After nine in the evening the only light on the whole street comes from the vending machines."]),
        (["说说钱。町屋一个月的房租是 180,000 日元，加上水电和网络大概 200,000 日元，按当时的汇率不到 1 万人民币，比我在上海的房租还便宜一点。"],
         ["A word about money. A month in the machiya cost ¥180,000 in rent, or about ¥200,000 with utilities and internet: at the exchange rate back then, a little less than my rent in Shanghai."]),
        (["第二周开始下雨。我买了一把透明伞，把能走的寺庙都走了一遍。雨天的苔寺其实比晴天好看，只是预约要提前两个月，我是捡了别人取消的名额。"],
         ["In the second week the rain set in. I bought a clear plastic umbrella and walked to every temple I could reach. The moss garden at Saihō-ji is lovelier in the rain than in sunshine, though you have to book two months ahead; I got in on someone else's cancellation."]),
        (["我最常去的地方反而是一家没有名字的澡堂。四百五十日元，热水烫得发红，墙上画着富士山。洗完出来，在门口的长凳上喝一瓶冰牛奶，是我在京都最喜欢的时刻。"],
         ["The place I went to most was a bathhouse with no name. Four hundred and fifty yen, water hot enough to turn you pink, Mount Fuji painted on the wall. Drinking a cold bottle of milk on the bench outside afterwards was my favourite moment in Kyoto."]),
        (["如果你也想去，可以看看 [京都市的垃圾分类指南](https://www.city.kyoto.lg.jp/kankyo/page/0000185427.html)，有中文版，能少挨几次房东的白眼。"],
         ["If you are thinking of going, read the [city's rubbish sorting guide](https://www.city.kyoto.lg.jp/kankyo/page/0000185427.html) first. It comes in English too, and it will spare you a few of your landlady's looks."]),
        (["最后一天，老太太送了我一小袋她自己腌的梅干，说明年再来。我说一定。"],
         ["On my last day the landlady gave me a little bag of pickled plums she had made herself and told me to come back next year. I said I would."]),
        (["到现在我也没再去。但每次扔塑料瓶之前，我都会下意识地撕掉标签，好像她还在某个地方看着。"],
         ["I have not been back yet.",
          "But every time I throw away a plastic bottle, I tear off the label without thinking, as if she were still watching from somewhere."]),
    ],
    "sqlite": [
        (["我做过的几个小项目，数据库几乎都是 SQLite。不是因为它时髦，恰恰是因为它无聊：一个文件，一个库，不用装服务，不用配权限。"],
         ["Nearly every small project I have built keeps its data in SQLite. Not because it is fashionable but precisely because it is boring: one file, one library, no server to install, no permissions to configure."]),
        (["很多人对 SQLite 的印象还停留在“玩具数据库”。其实它可能是世界上部署最多的软件之一，你的手机里就有几百个 SQLite 数据库文件。"],
         ["Many people still think of SQLite as a toy. In fact it is probably one of the most widely deployed pieces of software in the world; your phone alone holds hundreds of SQLite database files."]),
        (["第一个要知道的设置是 `PRAGMA journal_mode=WAL;`。打开 WAL 之后，读和写可以同时进行，我的一个小网站的写入延迟从 40 毫秒降到了 3 毫秒左右。"],
         ["The first setting worth knowing is `PRAGMA journal_mode=WAL;`. With write-ahead logging on, readers no longer block the writer; on one small site of mine, write latency fell from 40 ms to about 3 ms."]),
        (["第二个是 `busy_timeout`。默认情况下，遇到锁会立刻报错“database is locked”，很多人以为是 SQLite 不行，其实只是没告诉它可以等一等。"],
         ["The second is `busy_timeout`. By default a locked database fails at once with \"database is locked\", and many people conclude that SQLite cannot cope, when all it needed was permission to wait a moment."]),
        (["当然，它也有不适合的地方。",
          "如果你有很多台机器要同时写同一个库，或者数据量大到几个 TB，那还是老老实实用 PostgreSQL 吧。"],
         ["It has its limits, of course: if many machines need to write to the same database at once, or your data runs to several terabytes, stick with PostgreSQL."]),
        (["这里插一句，之前在微信群里有人说 SQLite 不支持并发，所以不能用在生产环境。这话只对了一半，我就不在这里展开吵架了。"],
         []),
        (["备份也很简单。`sqlite3 blog.db \".backup backup.db\"` 一行命令就能在不停机的情况下得到一个一致的副本，比复制文件安全得多。"],
         ["Backups are simple too. One command, `sqlite3 blog.db \".backup backup.db\"`, gives you a consistent copy without stopping anything, which is far safer than copying the file."]),
        (["SQLite 的作者 D. Richard Hipp 说过，这个项目计划至少维护到 2050 年。项目网站上有一篇 [长期支持说明](https://www.sqlite.org/lts.html)，读起来像一份承诺书。"],
         ["D. Richard Hipp, who wrote SQLite, has said the project intends to support it until at least 2050. The project's site has a [page on long-term support](https://www.sqlite.org/lts.html) that reads like a pledge."]),
        (["我喜欢这种态度。软件行业里，大家都在追新东西，很少有人承诺三十年后还在。"],
         ["I like that attitude. In an industry that chases every new thing, hardly anyone promises to still be around in thirty years."]),
        (["所以下次开新项目，先别急着起一个数据库容器。试试一个文件，也许就够了。"],
         ["So next time you start a project, do not rush to spin up a database container. Try a single file first; it may be all you need."]),
    ],
    "bicycle": [
        (["我父亲有一辆二八自行车，黑色的，永久牌。"],
         ["My father had a bicycle, a big black Yongjiu with twenty-eight-inch wheels."]),
        (["那是他结婚那年买的，花了差不多三个月的工资。车把上缠着他自己用旧内胎剪的防滑套，后座上绑着一块木板，是专门给我坐的。"],
         ["He bought it the year he married, for nearly three months' wages. He wrapped the handlebars in grips he cut from an old inner tube, and he tied a wooden board to the rack at the back, which was my seat."]),
        (["小时候每天早上他骑车送我去幼儿园，冬天我把脸贴在他背上，能闻到棉袄里的烟味和机油味。路上有一段下坡，他每次都会松开刹车，喊一声“坐稳了”，我就抓紧他的衣服，尖叫着冲下去。"],
         ["When I was small he took me to kindergarten on it every morning. In winter I pressed my face against his back and smelled the cigarettes and engine oil in his padded jacket.",
          "There was a slope on the way, and every time he let go of the brakes and shouted \"Hold on tight!\" I would grab his coat and scream all the way down."]),
        (["后来我上了中学，嫌那辆车土，死活不肯再坐。他也没说什么，只是把后座的木板拆了。"],
         ["When I started secondary school I decided the bicycle was embarrassing and refused to ride on it ever again. He said nothing; he simply took the board off the back."]),
        (["再后来家里买了摩托车，又买了汽车。",
          "那辆自行车被推进楼道，车胎瘪了，链条锈了，上面堆满了邻居的纸箱。"],
         ["Later we bought a motorbike, and then a car, and the bicycle was wheeled into the stairwell, where its tyres went flat, its chain rusted and the neighbours piled their cardboard boxes on top of it."]),
        (["前年父亲生病住院，我回家帮他收拾东西，在楼道里又看见了它。我把纸箱搬开，擦了擦车座，发现上面还刻着我小时候用钉子划的名字。"],
         ["Two years ago, when my father was in hospital, I went home to sort out his things and saw it again in the stairwell. I moved the boxes, wiped the saddle, and found my name still scratched into it with a nail from when I was little."]),
        (["我找人把它修好了。换了胎，上了油，车铃还能响。"],
         ["I had it repaired: new tyres, fresh oil, and the bell still rings."]),
        (["父亲出院那天，我骑着它去医院门口接他。他看了半天，笑着说：“你骑得比我当年难看多了。”"],
         ["On the day he left hospital I rode it to the gate to meet him. He looked at it for a long time, then laughed and said, \"You ride it a lot worse than I did.\""]),
        (["他没有坐上后座。我推着车，他扶着车把，我们就这样慢慢走回了家。"],
         ["He did not sit on the back. I pushed the bicycle, he kept a hand on the handlebars, and together we walked slowly home."]),
    ],
}


def post(name: str) -> tuple[list[str], list[str], list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """(Chinese paragraphs, English paragraphs, the true groups as index tuples)."""
    original: list[str] = []
    translation: list[str] = []
    groups = []
    for zh, en in POSTS[name]:
        groups.append((tuple(range(len(original), len(original) + len(zh))),
                       tuple(range(len(translation), len(translation) + len(en)))))
        original += zh
        translation += en
    return original, translation, groups
