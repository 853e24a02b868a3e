"""A small real-looking corpus for end-to-end runs: eight posts by one writer, in Chinese,
each paragraph with the flat English a machine translator gives for it.

The stand-in for OpenAI answers a synthesis request with the recorded English of the
paragraph it was sent, as the real endpoint would answer with its own translation.
"""

from __future__ import annotations

from pathlib import Path

POSTS = {
    "coffee": ("搬家之后的第一杯咖啡", [
        ("搬家那天累得要命，箱子堆到天花板，我坐在地上想：先喝杯咖啡再说。",
         "On the day of the move I was extremely tired, the boxes were piled up to the "
         "ceiling, and I sat on the floor and thought: let us have a cup of coffee first."),
        ("问题是咖啡机还在某个箱子里。找了四十分钟，最后在写着“书”的箱子里找到了它。",
         "The problem was that the coffee machine was still in one of the boxes. After "
         "searching for forty minutes, I finally found it in the box labelled \"books\"."),
        ("说白了，搬家就是把你以为整理好的生活重新翻一遍，然后发现自己根本不记得放在哪。",
         "To put it simply, moving house means going through the life you thought was "
         "organised once again, and then discovering that you do not remember where "
         "anything is."),
    ]),
    "train": ("坐夜车去北京", [
        ("我还是喜欢坐夜车。睡一觉，醒来就到了，比飞机省心。",
         "I still prefer to take the night train. You sleep, wake up and you have arrived, "
         "which is less stressful than flying."),
        ("上铺的大叔打了一夜呼噜，我数到第三百下的时候放弃了。",
         "The man in the upper bunk snored all night, and I gave up when I had counted to "
         "three hundred."),
        ("早上六点，车窗外的田一块一块往后退，我突然觉得这一趟值了。",
         "At six o'clock in the morning, the fields outside the window moved backwards one "
         "after another, and I suddenly felt that the journey had been worth it."),
    ]),
    "tools": ("工具不重要", [
        ("每隔几个月就有人问我用什么笔记软件。我的回答一直没变：用你打开最快的那个。",
         "Every few months someone asks me which note-taking software I use. My answer has "
         "always been the same: use the one that opens the fastest."),
        ("工具换了七八个，笔记还是那么乱。乱的不是工具，是我。",
         "I have changed tools seven or eight times, and my notes are still just as messy. "
         "It is not the tool that is messy, it is me."),
        ("现在我就用一个文本文件，按日期往下写。两年了，挺好。",
         "Now I simply use one text file and write down the entries by date. It has been "
         "two years, and it works quite well."),
    ]),
    "rain": ("下雨天", [
        ("下雨天最适合干两件事：睡觉，和假装自己在工作。",
         "Rainy days are the most suitable for doing two things: sleeping, and pretending "
         "that you are working."),
        ("我今天两件都干了，效率出奇地高。",
         "Today I did both of them, and my efficiency was surprisingly high."),
        ("傍晚雨停了，楼下的猫出来巡逻，一脸嫌弃地绕开每一个水坑。",
         "In the evening the rain stopped, and the cat downstairs came out to patrol, "
         "walking around every puddle with a look of disgust."),
    ]),
    "writing": ("为什么我写得越来越短", [
        ("以前我写一篇文章要三千字，现在八百字就觉得啰嗦。",
         "In the past I needed three thousand characters to write an article, but now I "
         "feel that eight hundred characters is already verbose."),
        ("不是没话说了，是知道哪些话可以不说。",
         "It is not that I have nothing left to say, but that I know which things do not "
         "need to be said."),
        ("删掉的那些句子其实都挺好，就是不属于这篇。",
         "The sentences that I deleted were actually quite good, they simply did not belong "
         "in this article."),
    ]),
    "bike": ("修自行车", [
        ("车胎又瘪了。这是这个月第三次，我开始怀疑有人在跟我过不去。",
         "The tyre was flat again. This was the third time this month, and I began to "
         "suspect that someone had something against me."),
        ("修车师傅看了一眼，说内胎早该换了，补了也白补。",
         "The bicycle repairman took one look and said that the inner tube should have been "
         "replaced long ago, and patching it was useless."),
        ("换完胎骑回家，风从耳边过去，那点火气也就没了。",
         "After the tyre was changed I rode home, the wind passed by my ears, and that "
         "little bit of anger disappeared."),
    ]),
    "mother": ("我妈学会了发语音", [
        ("我妈终于学会了发语音消息，从此我的手机再也没安静过。",
         "My mother finally learned how to send voice messages, and since then my phone "
         "has never been quiet again."),
        ("一条六十秒，前五十秒是在问我吃了没有。",
         "Each message is sixty seconds long, and the first fifty seconds are spent asking "
         "whether I have eaten."),
        ("我嘴上嫌她烦，其实每一条都听完了。",
         "I say that she is annoying, but in fact I listen to every single message until "
         "the end."),
    ]),
    "market": ("早市", [
        ("周六早上去早市，去晚了就只剩下烂番茄和讨价还价的大妈。",
         "On Saturday morning I go to the morning market; if you go late, only rotten "
         "tomatoes and bargaining aunties are left."),
        ("卖豆腐的大姐认识我，总是多给一块，说我太瘦了。",
         "The woman who sells tofu knows me and always gives me an extra piece, saying that "
         "I am too thin."),
        ("我也不知道该怎么反驳，只好多吃点豆腐。",
         "I do not know how to argue with her, so I can only eat more tofu."),
    ]),
}

ENGLISH = {zh: en for _, paragraphs in POSTS.values() for zh, en in paragraphs}


def write_essays(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for slug, (title, paragraphs) in POSTS.items():
        body = "\n\n".join(zh for zh, _ in paragraphs)
        (folder / f"{slug}.md").write_text(f"---\ntitle: {title}\n---\n\n{body}\n", "utf-8")
    return folder


def machine_english(messages: list[dict]) -> str:
    """The stand-in translator: the recorded English of the paragraph it was sent."""
    return ENGLISH[messages[-1]["content"].strip()]
